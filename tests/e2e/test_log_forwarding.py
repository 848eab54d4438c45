"""Server mode with ``logs.clients``: what the store accepts goes on to a remote Loki URL."""

from __future__ import annotations

import time
from pathlib import Path

import orjson

from tests.e2e.harness import TidewatchProcess, http, wait_log_streams


def _push(tw: TidewatchProcess, labels: dict[str, str], lines: list[str]) -> None:
    now = time.time_ns()
    body = orjson.dumps(
        {
            "streams": [
                {"stream": labels, "values": [[str(now + i), ln] for i, ln in enumerate(lines)]}
            ]
        }
    )
    ans = http("POST", tw.url + "/loki/api/v1/push", body=body, content_type="application/json")
    assert ans.status == 204, ans.body


def test_server_forwards_pushed_and_tailed_lines(tmp_path: Path) -> None:
    central = TidewatchProcess(data_dir=tmp_path / "central")
    central.start()
    (tmp_path / "files").mkdir()  # not tmp_path: the harness writes its process logs there
    log_file = tmp_path / "files" / "app.log"
    log_file.write_text("tailed one\n")
    cfg = tmp_path / "edge.yml"
    cfg.write_text(
        f"""
logs:
  clients:
    - url: {central.url}/loki/api/v1/push
      batchwait: 100ms
      external_labels: {{site: edge}}
  scrape_configs:
    - job_name: files
      static_configs:
        - targets: [localhost]
          labels: {{job: files, __path__: "{tmp_path}/files/*.log"}}
"""
    )
    edge = TidewatchProcess(data_dir=tmp_path / "edge", config=cfg)
    edge.start()
    try:
        _push(edge, {"job": "app", "level": "error"}, ["first", "second"])
        streams = wait_log_streams(central, '{job="app"}', 2)
        assert [s["stream"] for s in streams] == [{"job": "app", "level": "error", "site": "edge"}]
        assert [v[1] for v in streams[0]["values"]] == ["first", "second"]
        # The edge keeps its own copy, without the forwarding labels.
        local = wait_log_streams(edge, '{job="app"}', 2)
        assert local[0]["stream"] == {"job": "app", "level": "error"}
        # Lines the built-in agent tails are forwarded too.
        with log_file.open("a") as f:
            f.write("tailed two\n")
        tailed = wait_log_streams(central, '{job="files"}', 2)
        assert [v[1] for v in tailed[0]["values"]] == ["tailed one", "tailed two"]
        assert tailed[0]["stream"]["site"] == "edge"
        want = (
            f'tidewatch_log_forward_sent_entries_total{{url="{central.url}/loki/api/v1/push"}} 4.0'
        )
        deadline = time.monotonic() + 10
        while want not in edge.get("/metrics").body.decode():
            assert time.monotonic() < deadline, "sent lines are counted"
            time.sleep(0.1)
    finally:
        edge.stop()
        central.stop()


def test_forwarding_to_an_absent_remote_keeps_the_server_working(tmp_path: Path) -> None:
    cfg = tmp_path / "edge.yml"
    cfg.write_text(
        """
logs:
  clients:
    - url: http://127.0.0.1:9/loki/api/v1/push
      batchwait: 100ms
      backoff_config: {max_retries: 1, min_period: 50ms, max_period: 100ms}
"""
    )
    edge = TidewatchProcess(data_dir=tmp_path / "edge", config=cfg)
    edge.start()
    try:
        for i in range(3):
            _push(edge, {"job": "app"}, [f"line {i}"])
        assert len(wait_log_streams(edge, '{job="app"}', 3)[0]["values"]) == 3
        assert edge.get("/-/ready").status == 200
        deadline = time.monotonic() + 20
        failed = ""
        while time.monotonic() < deadline and not failed:
            lines = edge.get("/metrics").body.decode().splitlines()
            failed = next(
                (
                    ln
                    for ln in lines
                    if ln.startswith("tidewatch_log_forward_failed_entries_total")
                    and not ln.endswith(" 0.0")
                ),
                "",
            )
            time.sleep(0.2)
        assert failed, "failed forwards are counted"
    finally:
        edge.stop()
