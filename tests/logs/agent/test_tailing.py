"""Tailing real files: growth, both kinds of rotation, new files, restarts with positions."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from tests.logs.agent.helpers import CollectSink, promtail_config, wait_for
from tidewatch.logs.agent.runner import LogAgent
from tidewatch.logs.agent.sink import LogBatch


def _append(path: Path, *lines: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        for ln in lines:
            f.write(ln + "\n")


async def test_tail_growth_and_labels(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    _append(app, "first", "second")
    agent = LogAgent(promtail_config(tmp_path, ""), sink)
    await agent.start()
    try:
        await wait_for(lambda: len(sink.entries) == 2)
        # A partial line waits for its newline.
        with app.open("a") as f:
            f.write("thi")
        _append(app, "rd", "fourth")
        await wait_for(lambda: len(sink.entries) == 4)
        assert sink.lines() == ["first", "second", "third", "fourth"]
        labels = dict(sink.entries[0][0])
        assert labels == {"job": "app", "filename": str(app)}
        ts = [e[1] for e in sink.entries]
        assert ts == sorted(ts) and len(set(ts)) == 4
    finally:
        await agent.stop()
    saved = yaml.safe_load((tmp_path / "positions.yaml").read_text())
    assert saved == {"positions": {str(app): str(app.stat().st_size)}}


async def test_rename_rotation_loses_nothing(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    _append(app, "a1", "a2")
    agent = LogAgent(promtail_config(tmp_path, ""), sink)
    await agent.start()
    try:
        await wait_for(lambda: len(sink.entries) == 2)
        _append(app, "a3")  # written just before rotation, maybe not yet read
        os.rename(app, logs / "app.log.1")
        _append(app, "b1", "b2")
        await wait_for(lambda: len(sink.entries) == 5)
        _append(app, "b3")
        await wait_for(lambda: len(sink.entries) == 6)
    finally:
        await agent.stop()
    assert sink.lines() == ["a1", "a2", "a3", "b1", "b2", "b3"]


async def test_copytruncate_rotation(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    _append(app, "old line one", "old line two")
    agent = LogAgent(promtail_config(tmp_path, ""), sink)
    await agent.start()
    try:
        await wait_for(lambda: len(sink.entries) == 2)
        (logs / "app.log.1").write_bytes(app.read_bytes())
        with app.open("r+") as f:
            f.truncate(0)
        await agent.run_once()  # sees the shrink before the writer catches up
        _append(app, "new")
        await wait_for(lambda: len(sink.entries) == 3)
    finally:
        await agent.stop()
    assert sink.lines() == ["old line one", "old line two", "new"]


async def test_new_files_and_deleted_files(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    agent = LogAgent(promtail_config(tmp_path, ""), sink)
    await agent.start()
    try:
        _append(logs / "late.log", "hello")
        _append(logs / "ignored.txt", "not matched")
        await wait_for(lambda: len(sink.entries) == 1)
        assert dict(sink.entries[0][0])["filename"] == str(logs / "late.log")
        assert agent.active_files() == [str(logs / "late.log")]
        (logs / "late.log").unlink()
        await wait_for(lambda: agent.active_files() == [])
    finally:
        await agent.stop()
    saved = yaml.safe_load((tmp_path / "positions.yaml").read_text())
    assert saved["positions"] == {}


async def test_restart_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    _append(app, *(f"line {i}" for i in range(100)))
    first = CollectSink()
    agent = LogAgent(promtail_config(tmp_path, ""), first)
    await agent.start()
    await wait_for(lambda: len(first.entries) == 100)
    await agent.stop()
    assert first.closed
    # Written while the agent is down.
    _append(app, *(f"line {i}" for i in range(100, 150)))
    second = CollectSink()
    agent = LogAgent(promtail_config(tmp_path, ""), second)
    await agent.start()
    try:
        await wait_for(lambda: len(second.entries) == 50)
        _append(app, "line 150")
        await wait_for(lambda: len(second.entries) == 51)
    finally:
        await agent.stop()
    assert first.lines() + second.lines() == [f"line {i}" for i in range(151)]


async def test_restart_after_truncation_while_down(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    _append(app, "a much longer line than what comes next", "another one")
    first = CollectSink()
    agent = LogAgent(promtail_config(tmp_path, ""), first)
    await agent.start()
    await wait_for(lambda: len(first.entries) == 2)
    await agent.stop()
    app.write_text("short\n")
    second = CollectSink()
    agent = LogAgent(promtail_config(tmp_path, ""), second)
    await agent.start()
    try:
        await wait_for(lambda: len(second.entries) == 1)
    finally:
        await agent.stop()
    assert second.lines() == ["short"]


async def test_docker_json_file_logs(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    # What the json-file driver writes; a line over 16 KiB arrives in two records.
    (logs / "c-json.log").write_text(
        '{"log":"hello from stdout\\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}\n'
        '{"log":"oops\\n","stream":"stderr","time":"2024-05-01T10:00:01Z"}\n'
        '{"log":"part one, ","stream":"stdout","time":"2024-05-01T10:00:02Z"}\n'
        '{"log":"part two\\n","stream":"stdout","time":"2024-05-01T10:00:02.5Z"}\n'
    )
    cfg = promtail_config(tmp_path, "    pipeline_stages:\n      - docker: {}\n")
    agent = LogAgent(cfg, sink)
    await agent.start()
    try:
        await wait_for(lambda: len(sink.entries) == 3)
    finally:
        await agent.stop()
    assert sink.lines() == ["hello from stdout", "oops", "part one, part two"]
    assert [dict(e[0])["stream"] for e in sink.entries] == ["stdout", "stderr", "stdout"]
    assert sink.entries[0][1] == 1714557600123456789
    assert sink.entries[2][1] == 1714557602000000000


async def test_relabel_and_path_exclude(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    _append(logs / "keep.log", "k")
    _append(logs / "skip.log", "s")
    text = f"""
positions: {{filename: {tmp_path / "pos.yaml"}}}
target_config: {{sync_period: 50ms}}
scrape_configs:
  - job_name: j
    static_configs:
      - labels:
          env: prod
          __path__: {logs}/*.log
          __path_exclude__: "*/skip.log"
    relabel_configs:
      - source_labels: [env]
        target_label: environment
      - regex: env
        action: labeldrop
"""
    from tidewatch.logs.agent.config import decode_promtail

    agent = LogAgent(decode_promtail(text, "p.yml"), sink)
    await agent.start()
    try:
        await wait_for(lambda: len(sink.entries) == 1)
    finally:
        await agent.stop()
    assert sink.lines() == ["k"]
    assert dict(sink.entries[0][0]) == {"environment": "prod", "filename": str(logs / "keep.log")}


async def test_multiline_flushed_on_stop_and_timeout(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    _append(app, "ERROR boom", "  at a()", "  at b()", "INFO next")
    body = """    pipeline_stages:
      - multiline:
          firstline: '^[A-Z]+ '
          max_wait_time: 200ms
"""
    agent = LogAgent(promtail_config(tmp_path, body), sink)
    await agent.start()
    try:
        await wait_for(lambda: len(sink.entries) == 2)  # "INFO next" released by timeout
        _append(app, "WARN last", "  detail")
    finally:
        await agent.stop()
    assert sink.lines() == ["ERROR boom\n  at a()\n  at b()", "INFO next", "WARN last\n  detail"]


class HangingSink(CollectSink):
    """Accepts the first batch, then never answers (a remote that hangs)."""

    async def push(self, batch: LogBatch) -> None:
        if self.entries:
            import asyncio

            await asyncio.Event().wait()
        await super().push(batch)


async def test_stop_during_a_hung_push_resends_on_restart(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    _append(app, "sent")
    hanging = HangingSink()
    agent = LogAgent(promtail_config(tmp_path, ""), hanging)
    await agent.start()
    await wait_for(lambda: len(hanging.entries) == 1)
    _append(app, "in flight")
    await wait_for(lambda: agent._in_flight)
    await agent.stop(timeout_s=0.2)
    saved = yaml.safe_load((tmp_path / "positions.yaml").read_text())
    assert saved["positions"] == {str(app): str(len("sent\n"))}
    again = CollectSink()
    agent = LogAgent(promtail_config(tmp_path, ""), again)
    await agent.start()
    try:
        await wait_for(lambda: len(again.entries) == 1)
    finally:
        await agent.stop()
    assert again.lines() == ["in flight"]


async def test_failing_sink_counts_drops_and_goes_on(tmp_path: Path) -> None:
    class Failing(CollectSink):
        async def push(self, batch: LogBatch) -> None:
            raise RuntimeError("store closed")

    logs = tmp_path / "logs"
    logs.mkdir()
    _append(logs / "app.log", "a", "b")
    agent = LogAgent(promtail_config(tmp_path, ""), Failing())
    await agent.start()
    await agent.stop()
    assert agent.dropped_entries["error"] == 2


async def test_large_file_crosses_read_blocks_intact(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    expected = [f"{i:06d} " + "é" * (i % 97) + "x" * (i % 31) for i in range(30_000)]
    (logs / "big.log").write_text("\n".join(expected) + "\n", encoding="utf-8")
    assert (logs / "big.log").stat().st_size > 3 << 20  # several read blocks
    (logs / "small.log").write_text("other\n")
    agent = LogAgent(promtail_config(tmp_path, ""), sink)
    await agent.start()
    try:
        await wait_for(lambda: len(sink.entries) == 30_001, timeout=20)
    finally:
        await agent.stop()
    big = [e[2] for e in sink.entries if dict(e[0])["filename"].endswith("big.log")]
    assert big == expected


async def test_limits_config(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    _append(logs / "app.log", "short", "x" * 50, "é" * 20, *(f"n{i}" for i in range(10)))
    from tidewatch.logs.agent.config import LimitsConfig

    cfg = promtail_config(tmp_path, "")
    cfg.limits = LimitsConfig(
        max_line_size=30, readline_rate_enabled=True, readline_rate=0.001, readline_burst=5
    )
    agent = LogAgent(cfg, sink)
    await agent.start()
    await agent.stop()
    # 50 x's are dropped; 20 é (40 bytes) too; then only the burst of 5 lines passes.
    assert sink.lines() == ["short", "n0", "n1", "n2", "n3"]
    assert agent.dropped_entries == {"line_too_long": 2, "rate_limited": 6}
    names = {m.name: m for m in agent.self_metrics()}
    got = {s.labels["reason"]: s.value for s in names["promtail_dropped_entries"].samples}
    assert got == {"error": 0, "line_too_long": 2, "rate_limited": 6}


async def test_limits_truncate(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    _append(logs / "app.log", "abcdefghij" * 5, "é" * 20)
    from tidewatch.logs.agent.config import LimitsConfig

    cfg = promtail_config(tmp_path, "")
    cfg.limits = LimitsConfig(max_line_size=25, max_line_size_truncate=True)
    agent = LogAgent(cfg, sink)
    await agent.start()
    await agent.stop()
    assert sink.lines() == ["abcdefghij" * 2 + "abcde", "é" * 12]


async def test_glob_matching_rotated_names_does_not_duplicate(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    _append(app, "a1", "a2")
    sink = CollectSink()
    agent = LogAgent(promtail_config(tmp_path, "", glob="app.log*"), sink)
    await agent.start()
    try:
        await wait_for(lambda: len(sink.entries) == 2)
        os.rename(app, logs / "app.log.1")
        _append(app, "b1")
        await wait_for(lambda: len(sink.entries) >= 3)
        await wait_for(lambda: str(logs / "app.log.1") in agent.active_files())
        _append(logs / "app.log.1", "late write to the old file")
        await wait_for(lambda: len(sink.entries) >= 4)
    finally:
        await agent.stop()
    assert sorted(sink.lines()) == sorted(["a1", "a2", "b1", "late write to the old file"])


def test_brace_expansion() -> None:
    from tidewatch.logs.agent.targets import expand_braces

    assert expand_braces("/v/{a,b}.log") == ["/v/a.log", "/v/b.log"]
    assert expand_braces("/v/{a,{b,c}x}/*.log") == ["/v/a/*.log", "/v/bx/*.log", "/v/cx/*.log"]
    assert expand_braces("/v/{a,b}/{1,2}") == ["/v/a/1", "/v/a/2", "/v/b/1", "/v/b/2"]
    assert expand_braces("/v/{oops") == ["/v/{oops"]
    assert expand_braces("/v/plain") == ["/v/plain"]


async def test_brace_globs_and_excludes(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    for name in ("syslog", "auth.log", "other.log", "sub/deep.log", "sub/skip.log"):
        _append(logs / name, name)
    text = f"""
scrape_configs:
  - job_name: j
    static_configs:
      - labels:
          __path__: "{logs}/{{syslog,auth.log,**/*.log}}"
          __path_exclude__: "{logs}/{{other,sub/skip}}.log"
"""
    from tidewatch.logs.agent.config import decode_promtail

    agent = LogAgent(decode_promtail(text, "p.yml"), sink)
    await agent.start()
    await agent.stop()
    assert sorted(sink.lines()) == ["auth.log", "sub/deep.log", "syslog"]


async def test_batch_wait_groups_cycles_into_one_push(tmp_path: Path) -> None:
    class CountingSink(CollectSink):
        pushes = 0

        async def push(self, batch: LogBatch) -> None:
            self.pushes += 1
            await super().push(batch)

    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    _append(app, "a")
    sink = CountingSink()
    agent = LogAgent(promtail_config(tmp_path, ""), sink, batch_wait_ms=400)
    await agent.start()
    try:
        _append(app, "b")
        await agent.run_once()
        assert sink.entries == []  # held: young and small
        await wait_for(lambda: len(sink.entries) == 2)
        assert sink.pushes == 1
        _append(app, "c")
    finally:
        await agent.stop()  # what is held goes out on stop
    assert sink.lines() == ["a", "b", "c"]
    saved = yaml.safe_load((tmp_path / "positions.yaml").read_text())
    assert saved["positions"] == {str(app): "6"}


async def test_path_set_by_relabeling(tmp_path: Path, sink: CollectSink) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    _append(logs / "svc.log", "via relabel")
    text = f"""
scrape_configs:
  - job_name: j
    static_configs:
      - labels: {{service: svc}}
      - labels: {{service: nothing}}
    relabel_configs:
      - source_labels: [service]
        regex: (svc)
        target_label: __path__
        replacement: "{logs}/$1.log"
"""
    from tidewatch.logs.agent.config import decode_promtail

    agent = LogAgent(decode_promtail(text, "p.yml"), sink)
    await agent.start()
    await agent.stop()
    assert sink.lines() == ["via relabel"]
    assert dict(sink.entries[0][0]) == {"service": "svc", "filename": str(logs / "svc.log")}


async def test_rename_seen_by_glob_before_the_tailer(tmp_path: Path) -> None:
    """Deterministic order: the glob re-scan finds app.log.1 before the poll of app.log
    notices the rename; the renamed file must not be read again from its start."""
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    _append(app, "a1", "a2")
    sink = CollectSink()
    agent = LogAgent(promtail_config(tmp_path, "", glob="app.log*"), sink)
    agent.positions.load()
    agent._jobs = agent._build_jobs(agent.config)  # driven by hand, without the loop task
    await agent.run_once()
    os.rename(app, logs / "app.log.1")
    _append(app, "b1")
    agent._sync_targets()
    for _ in range(4):
        agent._last_sync = 0.0
        await agent.run_once()
    await agent.stop()
    assert sorted(sink.lines()) == ["a1", "a2", "b1"]
