"""Log rules in the real ``tidewatch up`` process: lines pushed to the Loki API make a
LogQL alert fire through the built-in Alertmanager to a webhook, a LogQL recording
rule's series is read back with PromQL, and reloads pick up or refuse rule files."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import orjson
import yaml

from tests.e2e.conftest import write_config
from tests.e2e.harness import TidewatchProcess, WebhookSink, http

LOG_RULES = """
groups:
  - name: app-logs
    interval: 1s
    rules:
      - record: level:app_error_lines:count1m
        expr: sum by (level)(count_over_time({job="app"} |= "error" [1m]))
      - alert: AppErrorBurst
        expr: sum by (level)(count_over_time({job="app"} |= "error" [1m])) > 3
        labels:
          severity: page
        annotations:
          summary: "{{ $value }} error lines at level {{ $labels.level }}"
"""


def _config(sink: WebhookSink) -> str:
    return f"""
storage:
  wal_sync_interval: 0s
prometheus:
  global:
    evaluation_interval: 1s
logs:
  ruler:
    rule_files: [log-rules/*.yml]
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


def push(tw: TidewatchProcess, labels: dict[str, str], lines: list[str]) -> None:
    now = time.time_ns()
    values = [[str(now - (len(lines) - i) * 1000), line] for i, line in enumerate(lines)]
    body = orjson.dumps({"streams": [{"stream": labels, "values": values}]})
    ans = http("POST", tw.url + "/loki/api/v1/push", body=body, content_type="application/json")
    assert ans.status == 204, ans.body


def test_log_alert_fires_and_recording_rule_feeds_promql(tmp_path: Path) -> None:
    (tmp_path / "log-rules").mkdir()
    (tmp_path / "log-rules" / "app.yml").write_text(LOG_RULES)
    sink = WebhookSink()
    cfg = write_config(tmp_path / "tidewatch.yml", _config(sink))
    tw = TidewatchProcess(tmp_path / "data", cfg)
    tw.start()
    try:
        push(tw, {"job": "app", "level": "error"}, [f"error: request {i} failed" for i in range(5)])
        push(tw, {"job": "app", "level": "info"}, ["request ok", "error-free request"] * 3)
        push(tw, {"job": "other", "level": "error"}, ["error elsewhere"] * 9)

        # The alert reaches the webhook through the built-in Alertmanager.
        bodies = sink.wait(lambda b: any(x["status"] == "firing" for x in b), timeout=30)
        hook = next(x for x in bodies if x["status"] == "firing")
        (alert,) = hook["alerts"]
        assert alert["labels"] == {
            "alertname": "AppErrorBurst",
            "level": "error",
            "severity": "page",
        }
        assert alert["annotations"] == {"summary": "5 error lines at level error"}
        assert "/explore?ds=loki&expr=sum+by+%28level%29" in alert["generatorURL"]

        # The recording rule's series is in the metrics store.
        data = tw.wait_for(
            "level:app_error_lines:count1m", lambda d: len(d["result"]) == 2, timeout=20
        )
        got = {r["metric"]["level"]: r["value"][1] for r in data["result"]}
        # "error-free request" holds "error": 3 info lines match the line filter.
        assert got == {"error": "5", "info": "3"}
        assert (
            tw.query('sum(level:app_error_lines:count1m{level="error"}) * 2')["result"][0]["value"][
                1
            ]
            == "10"
        )

        # Listed with the PromQL rules, and on the Loki-style endpoints.
        groups = tw.get("/api/v1/rules").json()["data"]["groups"]
        (g,) = [g for g in groups if g["name"] == "app-logs"]
        assert g["file"].endswith("app.yml")
        assert [r["name"] for r in g["rules"]] == [
            "level:app_error_lines:count1m",
            "AppErrorBurst",
        ]
        assert g["rules"][1]["query"].startswith('sum by (level)(count_over_time({job="app"}')
        alerts = tw.get("/api/v1/alerts").json()["data"]["alerts"]
        assert [a["labels"]["alertname"] for a in alerts] == ["AppErrorBurst"]
        loki_groups = tw.get("/prometheus/api/v1/rules").json()["data"]["groups"]
        assert [x["name"] for x in loki_groups] == ["app-logs"]
        listing = yaml.safe_load(tw.get("/loki/api/v1/rules").body)
        assert listing["app.yml"][0]["rules"][1]["alert"] == "AppErrorBurst"
        am = tw.get("/api/v2/alerts").json()
        assert [a["labels"]["alertname"] for a in am] == ["AppErrorBurst"]

        # A bad LogQL expression refuses the reload, naming file and position.
        (tmp_path / "log-rules" / "app.yml").write_text(
            "groups:\n  - name: broken\n    rules:\n      - alert: X\n"
            "        expr: 'sum(rate({job=\"app\"} |= [1m]))'\n"
        )
        ans = tw.post("/-/reload")
        assert ans.status >= 400
        assert b"app.yml: 5:15:" in ans.body and b"parse error at line 1, col" in ans.body
        groups = tw.get("/prometheus/api/v1/rules").json()["data"]["groups"]
        assert [x["name"] for x in groups] == ["app-logs"]

        # SIGHUP loads a new good file next to the old one.
        (tmp_path / "log-rules" / "app.yml").write_text(LOG_RULES)
        (tmp_path / "log-rules" / "more.yml").write_text(
            "groups:\n  - name: more\n    rules:\n      - record: app:lines:count1m\n"
            '        expr: sum(count_over_time({job="app"}[1m]))\n'
        )
        tw.signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        names: list[str] = []
        while time.monotonic() < deadline:
            names = [x["name"] for x in tw.get("/prometheus/api/v1/rules").json()["data"]["groups"]]
            if names == ["app-logs", "more"]:
                break
            time.sleep(0.2)
        assert names == ["app-logs", "more"]
    finally:
        tw.stop()
        sink.close()
