"""The positions file: Promtail's format, atomic rewrite, bad files, unknown entries."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.logs.agent.helpers import CollectSink, promtail_config, wait_for
from tidewatch.logs.agent.positions import Positions, PositionsError
from tidewatch.logs.agent.runner import LogAgent


def test_round_trip_in_promtails_format(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "positions.yaml"
    p = Positions(path)
    p.put("/var/log/a.log", 120)
    p.put("/var/log/b.log", 0)
    p.save()
    assert yaml.safe_load(path.read_text()) == {
        "positions": {"/var/log/a.log": "120", "/var/log/b.log": "0"}
    }
    assert [f.name for f in path.parent.iterdir()] == ["positions.yaml"]  # no temp left
    q = Positions(path)
    q.load()
    assert q.get("/var/log/a.log") == 120 and q.get("/nope") == 0 and not q.has("/nope")


def test_keeps_entries_it_does_not_understand(tmp_path: Path) -> None:
    path = tmp_path / "positions.yaml"
    path.write_text('positions:\n  journal-job: "s=abc;i=12"\n  /x.log: "7"\n')
    p = Positions(path)
    p.load()
    p.put("/x.log", 9)
    p.save()
    assert yaml.safe_load(path.read_text())["positions"] == {
        "journal-job": "s=abc;i=12",
        "/x.log": "9",
    }


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "positions.yaml"
    path.write_text("positions: [unclosed\n")
    with pytest.raises(PositionsError, match="invalid positions file"):
        Positions(path).load()
    p = Positions(path, ignore_invalid_yaml=True)
    p.load()
    assert p.snapshot() == {}


async def test_apply_config_keeps_offsets(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("one\ntwo\n")
    agent = LogAgent(promtail_config(tmp_path, ""), sink)
    await agent.start()
    try:
        await wait_for(lambda: len(sink.entries) == 2)
        body = "    pipeline_stages:\n      - static_labels: {stage: new}\n"
        await agent.apply_config(promtail_config(tmp_path, body))
        with (logs / "a.log").open("a") as f:
            f.write("three\n")
        await wait_for(lambda: len(sink.entries) == 3)
    finally:
        await agent.stop()
    assert sink.lines() == ["one", "two", "three"]
    assert dict(sink.entries[2][0])["stage"] == "new"
