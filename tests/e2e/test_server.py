"""The real ``tidewatch up`` process over real HTTP: scrape → store → API."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from tests.e2e.conftest import write_config
from tests.e2e.harness import MetricsTarget, TidewatchProcess, WebhookSink, http


def scrape_config(target: MetricsTarget, extra_jobs: str = "") -> str:
    return f"""
storage:
  wal_sync_interval: 0s
prometheus:
  global:
    scrape_interval: 1s
    scrape_timeout: 500ms
    external_labels:
      site: test
  scrape_configs:
    - job_name: demo
      static_configs:
        - targets: ["{target.address}"]
          labels:
            team: core
      metric_relabel_configs:
        - source_labels: [__name__]
          regex: "go_.*"
          action: drop
{extra_jobs}
"""


def test_scrape_store_and_metadata_api(tmp_path: Path, target: MetricsTarget) -> None:
    cfg = write_config(tmp_path / "tidewatch.yml", scrape_config(target))
    tw = TidewatchProcess(tmp_path / "data", cfg)
    tw.start()
    try:
        data = tw.wait_for('up{job="demo"}', lambda d: len(d["result"]) == 1)
        sample = data["result"][0]
        assert sample["metric"] == {
            "__name__": "up",
            "job": "demo",
            "instance": target.address,
            "team": "core",
        }
        assert sample["value"][1] == "1"

        # metric_relabel_configs dropped go_.* ; the rest is stored with target labels.
        series = tw.get("/api/v1/series", **{"match[]": '{job="demo"}'}).json()
        names = {s["__name__"] for s in series["data"]}
        assert "demo_requests_total" in names and "demo_temperature" in names
        assert "go_goroutines" not in names
        assert {
            "up",
            "scrape_duration_seconds",
            "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling",
            "scrape_series_added",
        } <= names

        labels = tw.get("/api/v1/labels").json()
        assert labels["status"] == "success"
        assert {"__name__", "code", "instance", "job", "team"} <= set(labels["data"])
        values = tw.get("/api/v1/label/code/values").json()["data"]
        assert values == ["200", "500"]

        limited = tw.get("/api/v1/label/__name__/values", limit="1").json()
        assert len(limited["data"]) == 1 and limited["warnings"]

        meta = tw.get("/api/v1/metadata", metric="demo_requests_total").json()["data"]
        assert meta["demo_requests_total"][0]["type"] == "counter"
        assert meta["demo_requests_total"][0]["help"] == "Requests served."

        tmeta = tw.get(
            "/api/v1/targets/metadata", metric="demo_temperature", match_target='{job="demo"}'
        ).json()["data"]
        assert tmeta[0]["type"] == "gauge" and tmeta[0]["help"] == "Current temperature."
        assert tmeta[0]["target"]["job"] == "demo"
        bad_target = tw.get("/api/v1/targets/metadata", match_target="{job=")
        assert bad_target.status == 400 and bad_target.json()["errorType"] == "bad_data"
        targets = tw.get("/api/v1/targets").json()["data"]
        (active,) = [t for t in targets["activeTargets"] if t["scrapePool"] == "demo"]
        assert active["health"] == "up" and active["lastError"] == ""
        assert active["labels"]["team"] == "core"
        assert active["scrapeUrl"] == f"http://{target.address}/metrics"

        # Error envelope for bad input, never a 500.
        bad = tw.get("/api/v1/series")
        assert bad.status == 400
        assert bad.json() == {
            "status": "error",
            "errorType": "bad_data",
            "error": "no match[] parameter provided",
        }
        bad_time = tw.get("/api/v1/series", **{"match[]": "up", "start": "yesterday"})
        assert bad_time.status == 400 and "start" in bad_time.json()["error"]
    finally:
        assert tw.stop() == 0


def test_failing_target_is_down_with_reason(tmp_path: Path, target: MetricsTarget) -> None:
    broken = MetricsTarget("this is { not an exposition\n")
    try:
        extra = f"""
    - job_name: broken
      static_configs:
        - targets: ["{broken.address}"]
    - job_name: unreachable
      static_configs:
        - targets: ["127.0.0.1:1"]
"""
        cfg = write_config(tmp_path / "tidewatch.yml", scrape_config(target, extra))
        tw = TidewatchProcess(tmp_path / "data", cfg)
        tw.start()
        try:
            tw.wait_for("up", lambda d: len(d["result"]) == 3)
            ups = {r["metric"]["job"]: r["value"][1] for r in tw.query("up")["result"]}
            assert ups == {"demo": "1", "broken": "0", "unreachable": "0"}
            targets = tw.get("/api/v1/targets").json()["data"]["activeTargets"]
            by_job = {t["scrapePool"]: t for t in targets}
            assert by_job["broken"]["health"] == "down" and by_job["broken"]["lastError"]
            assert by_job["unreachable"]["health"] == "down"
            assert by_job["unreachable"]["lastError"]
        finally:
            tw.stop()
    finally:
        broken.close()


def test_reload_keeps_old_config_on_error(tmp_path: Path, target: MetricsTarget) -> None:
    cfg = write_config(tmp_path / "tidewatch.yml", scrape_config(target))
    tw = TidewatchProcess(tmp_path / "data", cfg)
    tw.start()
    try:
        tw.wait_for('up{job="demo"}', lambda d: len(d["result"]) == 1)
        cfg.write_text("prometheus:\n  scrape_configs:\n    - job_name: x\n      bogus_field: 1\n")
        ans = tw.post("/-/reload")
        assert ans.status == 400
        assert b"bogus_field" in ans.body
        status = tw.get("/api/v1/status/runtimeinfo").json()["data"]
        assert status["reloadConfigSuccess"] is False
        # Still scraping with the old config.
        assert tw.get("/api/v1/targets").json()["data"]["activeTargets"][0]["scrapePool"] == "demo"

        extra = f"""
    - job_name: demo2
      static_configs:
        - targets: ["{target.address}"]
"""
        cfg.write_text(scrape_config(target, extra))
        tw.signal(signal.SIGHUP)
        tw.wait_for('up{job="demo2"}', lambda d: len(d["result"]) == 1)
        assert tw.get("/api/v1/status/runtimeinfo").json()["data"]["reloadConfigSuccess"] is True
    finally:
        tw.stop()


def test_kill9_loses_nothing_acknowledged(tmp_path: Path, target: MetricsTarget) -> None:
    cfg = write_config(tmp_path / "tidewatch.yml", scrape_config(target))
    tw = TidewatchProcess(tmp_path / "data", cfg)
    tw.start()
    tw.wait_for(
        "count_over_time(up[1m])", lambda d: d["result"] and float(d["result"][0]["value"][1]) >= 3
    )
    # With wal_sync_interval 0s every committed scrape is on disk before it is queryable.
    before = tw.query("demo_temperature", time=str(time.time()))["result"]
    counted = tw.query("count_over_time(up[10m])")["result"][0]["value"][1]
    tw.kill9()

    tw2 = TidewatchProcess(tmp_path / "data", cfg, port=tw.port)
    tw2.start()
    try:
        after = tw2.query("count_over_time(up[10m])")["result"]
        assert float(after[0]["value"][1]) >= float(counted)
        assert before and before[0]["metric"]["__name__"] == "demo_temperature"
    finally:
        tw2.stop()


def test_default_config_scrapes_itself_and_host(tmp_path: Path) -> None:
    tw = TidewatchProcess(tmp_path / "data", None, extra_args=[])
    tw.start()
    try:
        ans = tw.get("/api/v1/status/config").json()["data"]["yaml"]
        assert "job_name: tidewatch" in ans and "job_name: node" in ans
        # The default interval is 15 s; the first scrape happens within one interval.
        data = tw.wait_for("up", lambda d: len(d["result"]) == 2, timeout=40)
        assert {r["metric"]["job"]: r["value"][1] for r in data["result"]} == {
            "tidewatch": "1",
            "node": "1",
        }
        assert tw.query("node_load1")["result"]
        assert tw.query("process_resident_memory_bytes")["result"]
    finally:
        tw.stop()


def test_status_endpoints_and_health(tmp_path: Path, target: MetricsTarget) -> None:
    cfg = write_config(tmp_path / "tidewatch.yml", scrape_config(target))
    tw = TidewatchProcess(tmp_path / "data", cfg)
    tw.start()
    try:
        assert tw.get("/-/healthy").status == 200
        assert tw.get("/-/ready").status == 200
        build = tw.get("/api/v1/status/buildinfo").json()["data"]
        assert set(build) >= {
            "version",
            "revision",
            "branch",
            "buildUser",
            "buildDate",
            "goVersion",
        }
        flags = tw.get("/api/v1/status/flags").json()["data"]
        assert flags["web.listen-address"] == f"127.0.0.1:{tw.port}"
        tw.wait_for('up{job="demo"}', lambda d: len(d["result"]) == 1)
        tsdb = tw.get("/api/v1/status/tsdb").json()["data"]
        assert tsdb["headStats"]["numSeries"] > 0
        assert any(e["name"] == "demo_requests_total" for e in tsdb["seriesCountByMetricName"])
        metrics = tw.get("/metrics")
        assert metrics.status == 200 and b"process_cpu_seconds_total" in metrics.body
        # Grafana's data-source health check.
        health = tw.get("/api/v1/query", query="1+1", time="4").json()
        assert health == {"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}}
        err = tw.get("/api/v1/query", query="sum(rate(foo[5m])")
        assert err.status == 400 and err.json()["errorType"] == "bad_data"
        assert "1:" in err.json()["error"]
    finally:
        tw.stop()


def test_rules_evaluate_and_show_in_api(tmp_path: Path, target: MetricsTarget) -> None:
    (tmp_path / "rules.yml").write_text(
        """
groups:
  - name: demo
    interval: 1s
    rules:
      - record: job:demo_requests:sum
        expr: sum by (job) (demo_requests_total)
      - alert: TooHot
        expr: demo_temperature > 20
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is at {{ $value }} degrees"
"""
    )
    sink = WebhookSink()
    text = scrape_config(target).replace(
        "  scrape_configs:", "  rule_files: [rules.yml]\n  scrape_configs:", 1
    )
    text += f"""
alertmanager:
  route:
    receiver: hook
    group_by: [alertname]
    group_wait: 0s
  receivers:
    - name: hook
      webhook_configs:
        - url: {sink.url}
"""
    cfg = write_config(tmp_path / "tidewatch.yml", text)
    tw = TidewatchProcess(tmp_path / "data", cfg)
    tw.start()
    try:
        data = tw.wait_for("job:demo_requests:sum", lambda d: len(d["result"]) == 1)
        assert data["result"][0]["value"][1] == "11"
        alerts = tw.wait_for("ALERTS", lambda d: len(d["result"]) == 1)["result"]
        assert alerts[0]["metric"]["alertstate"] == "firing"
        api_alerts = tw.get("/api/v1/alerts").json()["data"]["alerts"]
        assert api_alerts[0]["annotations"]["summary"] == f"{target.address} is at 21.5 degrees"
        groups = tw.get("/api/v1/rules").json()["data"]["groups"]
        assert [r["name"] for r in groups[0]["rules"]] == ["job:demo_requests:sum", "TooHot"]
        # The built-in Alertmanager routed it to the webhook and lists it in API v2.
        (hook,) = sink.wait(lambda b: len(b) >= 1)[:1]
        assert hook["version"] == "4" and hook["receiver"] == "hook"
        assert hook["status"] == "firing"
        assert hook["alerts"][0]["labels"]["alertname"] == "TooHot"
        am_alerts = tw.get("/api/v2/alerts").json()
        assert [a["labels"]["alertname"] for a in am_alerts] == ["TooHot"]
        # A broken rule file is refused on reload; the rules keep running.
        (tmp_path / "rules.yml").write_text(
            "groups:\n  - name: x\n    rules:\n      - expr: sum(\n"
        )
        assert tw.post("/-/reload").status == 400
        assert tw.get("/api/v1/rules").json()["data"]["groups"][0]["name"] == "demo"
    finally:
        tw.stop()
        sink.close()


def test_auth_is_on_beyond_loopback(tmp_path: Path) -> None:
    # Bound to every interface, reached only over loopback.
    tw = TidewatchProcess(
        tmp_path / "data",
        None,
        listen_host="0.0.0.0",
        env={"TIDEWATCH_ADMIN_PASSWORD": "correct horse battery"},
    )
    tw.start()
    try:
        assert tw.get("/-/healthy").status == 200
        denied = tw.get("/api/v1/query", query="up")
        assert denied.status == 401
        tw.auth = ("admin", "wrong")
        assert tw.get("/api/v1/query", query="up").status == 401
        tw.auth = ("admin", "correct horse battery")
        # The built-in self-scrapes get through auth too.
        data = tw.wait_for("up", lambda d: len(d["result"]) == 2, timeout=40)
        assert {r["value"][1] for r in data["result"]} == {"1"}
        assert "correct horse battery" not in tw.log_text()
    finally:
        tw.stop()


def test_logs_push_and_query(tmp_path: Path) -> None:
    tw = TidewatchProcess(tmp_path / "data", None)
    tw.start()
    try:
        now_ns = time.time_ns()
        body = orjson.dumps(
            {
                "streams": [
                    {
                        "stream": {"job": "app", "level": "error"},
                        "values": [[str(now_ns - 1000), "boom needle"], [str(now_ns), "fine"]],
                    }
                ]
            }
        )
        pushed = http(
            "POST", tw.url + "/loki/api/v1/push", body=body, content_type="application/json"
        )
        assert pushed.status == 204, pushed.body
        found = tw.get(
            "/loki/api/v1/query_range",
            query='{job="app"} |= "needle"',
            start=str(now_ns - 60 * 10**9),
            end=str(now_ns + 10**9),
        ).json()
        assert found["status"] == "success"
        (stream,) = found["data"]["result"]
        assert stream["stream"] == {"job": "app", "level": "error"}
        assert [v[1] for v in stream["values"]] == ["boom needle"]
        health = tw.get("/loki/api/v1/query", query="vector(1)+vector(1)").json()
        assert health["data"]["result"][0]["value"][1] == "2"
        bad = http("POST", tw.url + "/loki/api/v1/push", body=b"{", content_type="application/json")
        assert bad.status == 400
    finally:
        tw.stop()


def test_log_agent_tails_files_into_the_store(tmp_path: Path) -> None:
    log_file = tmp_path / "app.log"
    log_file.write_text('level=info msg="started"\n')
    cfg = write_config(
        tmp_path / "tidewatch.yml",
        f"""
logs:
  scrape_configs:
    - job_name: app
      static_configs:
        - targets: [localhost]
          labels:
            job: app
            __path__: {tmp_path}/*.log
      pipeline_stages:
        - logfmt:
            mapping:
              level:
        - labels:
            level:
""",
    )
    tw = TidewatchProcess(tmp_path / "data", cfg)
    tw.start()
    try:
        with log_file.open("a") as f:
            f.write('level=error msg="disk full"\n')
        now_ns = time.time_ns()
        deadline = time.monotonic() + 20
        lines: list[str] = []
        while time.monotonic() < deadline:
            ans = tw.get(
                "/loki/api/v1/query_range",
                query='{job="app", level="error"}',
                start=str(now_ns - 600 * 10**9),
                end=str(now_ns + 600 * 10**9),
            ).json()
            lines = [v[1] for s in ans["data"]["result"] for v in s["values"]]
            if lines:
                break
            time.sleep(0.2)
        assert lines == ['level=error msg="disk full"']
    finally:
        tw.stop()


def test_remote_write_forwards_to_another_tidewatch(tmp_path: Path, target: MetricsTarget) -> None:
    receiver = TidewatchProcess(tmp_path / "receiver", write_config(tmp_path / "r.yml", "{}\n"))
    receiver.start()
    text = (
        scrape_config(target)
        + f"""
  remote_write:
    - url: http://127.0.0.1:{receiver.port}/api/v1/write
      queue_config:
        batch_send_deadline: 100ms
"""
    )
    sender = TidewatchProcess(tmp_path / "sender", write_config(tmp_path / "s.yml", text))
    sender.start()
    try:
        data = receiver.wait_for('demo_temperature{job="demo"}', lambda d: len(d["result"]) == 1)
        assert data["result"][0]["metric"]["team"] == "core"
        assert data["result"][0]["value"][1] == "21.5"
    finally:
        sender.stop()
        receiver.stop()


def test_agent_mode_forwards_metrics(tmp_path: Path, target: MetricsTarget) -> None:
    receiver = TidewatchProcess(tmp_path / "receiver", write_config(tmp_path / "r.yml", "{}\n"))
    receiver.start()
    cfg = write_config(
        tmp_path / "agent.yml",
        f"""
prometheus:
  global:
    scrape_interval: 1s
  scrape_configs:
    - job_name: demo
      static_configs:
        - targets: ["{target.address}"]
  remote_write:
    - url: http://127.0.0.1:{receiver.port}/api/v1/write
      queue_config:
        batch_send_deadline: 100ms
""",
    )
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tidewatch",
            "agent",
            "--config",
            str(cfg),
            "--data-dir",
            str(tmp_path / "agent-data"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        data = receiver.wait_for('up{job="demo"}', lambda d: len(d["result"]) == 1)
        assert data["result"][0]["value"][1] == "1"
        assert receiver.query("demo_temperature")["result"][0]["value"][1] == "21.5"
    finally:
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=20)
        receiver.stop()
    assert agent.returncode == 0, err.decode()


def test_backup_while_running_then_restore(tmp_path: Path, target: MetricsTarget) -> None:
    cfg = write_config(tmp_path / "tidewatch.yml", scrape_config(target))
    tw = TidewatchProcess(tmp_path / "data", cfg)
    tw.start()
    try:
        tw.wait_for('up{job="demo"}', lambda d: len(d["result"]) == 1)
        t = str(time.time())
        before = tw.query("count_over_time(demo_temperature[10m])", time=t)["result"]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tidewatch",
                "backup",
                str(tmp_path / "backup"),
                "--data-dir",
                str(tmp_path / "data"),
                "--url",
                tw.url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    finally:
        tw.stop()
    restored = subprocess.run(
        [
            sys.executable,
            "-m",
            "tidewatch",
            "restore",
            str(tmp_path / "backup"),
            "--data-dir",
            str(tmp_path / "restored"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restored.returncode == 0, restored.stderr
    tw2 = TidewatchProcess(tmp_path / "restored", write_config(tmp_path / "empty.yml", "{}\n"))
    tw2.start()
    try:
        after = tw2.query("count_over_time(demo_temperature[10m])", time=t)["result"]
        assert after and float(after[0]["value"][1]) >= float(before[0]["value"][1])
    finally:
        tw2.stop()


def test_import_openmetrics_cli(tmp_path: Path) -> None:
    om = tmp_path / "history.om"
    lines = ["# TYPE backfill_total counter"]
    lines += [f'backfill_total{{job="old"}} {i} {1_700_000_000 + 15 * i}' for i in range(100)]
    om.write_text("\n".join(lines) + "\n# EOF\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tidewatch",
            "import",
            "openmetrics",
            str(om),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "write blocks: 100%" in done.stderr  # progress is shown
    tw = TidewatchProcess(tmp_path / "data", write_config(tmp_path / "empty.yml", "{}\n"))
    tw.start()
    try:
        data = tw.query("backfill_total", time=str(1_700_000_000 + 15 * 99))["result"]
        assert data[0]["value"][1] == "99"
    finally:
        tw.stop()
