"""The UI in a real browser against a real ``tidewatch up``: the shipped dashboards and
the shared node_exporter dashboards render with data, variables resolve, a time-range
change refetches, and a 40-panel dashboard over 24 h is drawn in time."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import free_port, http
from tests.ui.browser import launch, require_browser
from tidewatch.web.ui import find_static_dir

REPO = Path(__file__).resolve().parents[2]
SHARED_DASHBOARDS = REPO / ".." / "shared" / "dashboards"
PERF_GOAL_MS = 1500
DRAWN = "window.__tw && window.__tw.drawnAt !== null"


def backfill_file(path: Path, now_s: int) -> None:
    """24 h of 10 counters and 10 gauges every 60 s, ending just before now."""
    lines = ["# TYPE perf_requests counter", "# TYPE perf_temperature gauge"]
    start = now_s - 24 * 3600
    req = []
    temp = []
    for step, t in enumerate(range(start, now_s - 120, 60)):
        for h in range(10):
            req.append(f'perf_requests_total{{handler="h{h}"}} {step * (h + 1)} {t}.5')
            temp.append(f'perf_temperature{{room="r{h}"}} {20 + (step + h) % 7} {t}.5')
    path.write_text("\n".join([lines[0], *req, lines[1], *temp, "# EOF", ""]))


def perf_dashboard() -> dict[str, Any]:
    panels = []
    for i in range(40):
        x, y = (i % 4) * 6, (i // 4) * 6
        h = f"h{i % 10}"
        if i % 4 == 3:
            panels.append(
                {
                    "type": "stat",
                    "title": f"stat {i}",
                    "gridPos": {"x": x, "y": y, "w": 6, "h": 6},
                    "targets": [{"expr": f'perf_temperature{{room="r{i % 10}"}}', "refId": "A"}],
                    "fieldConfig": {"defaults": {"unit": "celsius"}, "overrides": []},
                    "options": {"graphMode": "area", "reduceOptions": {"calcs": ["mean"]}},
                }
            )
        else:
            expr = f'rate(perf_requests_total{{handler="{h}"}}[$__rate_interval])'
            panels.append(
                {
                    "type": "timeseries",
                    "title": f"requests {i}",
                    "gridPos": {"x": x, "y": y, "w": 6, "h": 6},
                    "targets": [{"expr": expr, "legendFormat": "{{handler}}", "refId": "A"}],
                    "fieldConfig": {"defaults": {"unit": "reqps"}, "overrides": []},
                }
            )
    return {"uid": "perf40", "title": "Perf 40", "panels": panels, "time": {"from": "now-24h"}}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("TIDEWATCH_TEST_ARTIFACTS")
    d = Path(env) / "ui" if env else tmp_path_factory.mktemp("ui-artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    sync_api = require_browser()
    del sync_api
    if find_static_dir() is None:
        msg = "the web UI is not built (pip install -e . or cd ui && npm ci && npm run build)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    root = tmp_path_factory.mktemp("tidewatch-ui")
    data = root / "data"
    port = free_port()
    backfill = root / "backfill.om"
    backfill_file(backfill, int(time.time()))
    data_args = ["--data-dir", str(data)]
    serve = [sys.executable, "-m", "tests.ui.serve", "up"]
    subprocess.run(
        [sys.executable, "-m", "tidewatch", "import", "openmetrics", str(backfill), *data_args],
        check=True,
        capture_output=True,
        timeout=300,
    )
    folders = [{"path": str(SHARED_DASHBOARDS.resolve()), "folder": "Shared"}]
    target = f"127.0.0.1:{port}"
    rules = root / "rules.yml"
    rules.write_text(
        "groups:\n  - name: ui\n    rules:\n      - alert: NodeScraped\n"
        '        expr: up{job="node"} == 1\n        labels: {severity: info}\n'
    )
    cfg = {
        "prometheus": {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [
                {"job_name": "tidewatch", "static_configs": [{"targets": [target]}]},
                {
                    "job_name": "node",
                    "metrics_path": "/collectors/node/metrics",
                    "static_configs": [{"targets": [target]}],
                },
            ],
        },
        "dashboards": {"folders": folders if SHARED_DASHBOARDS.is_dir() else []},
    }
    cfg_path = root / "tidewatch.yml"
    cfg_path.write_text(json.dumps(cfg))  # JSON is YAML
    log = open(root / "tidewatch.log", "wb")  # noqa: SIM115 - closed at teardown
    # tests.ui.serve is `tidewatch up` with the UI routes mounted if app.py lacks them.
    proc = subprocess.Popen(
        [*serve, "--listen", target, *data_args, "--config", str(cfg_path)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    url = f"http://{target}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (root / "tidewatch.log").read_text()
            try:
                ans = http(
                    "GET", url + "/api/v1/query", {"query": 'count_over_time(up{job="node"}[1m])'}
                )
                result = ans.json()["data"]["result"] if ans.status == 200 else []
                if result and float(result[0]["value"][1]) >= 4:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError(
                "no node samples scraped:\n" + (root / "tidewatch.log").read_text()
            )
        ans = http(
            "POST",
            url + "/api/dashboards/db",
            body=json.dumps({"dashboard": perf_dashboard(), "overwrite": True}).encode(),
        )
        assert ans.status == 200, ans.body
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = require_browser()
    pw, b = launch(sync_api)
    yield b
    b.close()
    pw.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()


def panel_states(page: Any) -> list[dict[str, str]]:
    js = """els => els.map(e => ({type: e.dataset.type, state: e.dataset.state,
        title: e.querySelector('.panel-title').textContent,
        error: (e.querySelector('.panel-error-text') || {}).textContent || ''}))"""
    result: list[dict[str, str]] = page.eval_on_selector_all(".panel", js)
    return result


def var_value(page: Any, name: str) -> str:
    """The variable's current value(s), comma-joined, as the picker shows them."""
    value: str = page.locator(f".var-picker[data-var={name}]").get_attribute("data-value")
    return value


def open_dashboard(page: Any, url: str, expand_rows: bool = False) -> list[dict[str, str]]:
    page.goto(url)
    page.wait_for_function(DRAWN, timeout=30_000)
    if expand_rows:
        while page.locator(".row-header.collapsed").count():
            page.locator(".row-header.collapsed").first.click()
            page.wait_for_function(DRAWN, timeout=30_000)
    return panel_states(page)


def test_dashboard_list(server: str, page: Any, artifacts: Path) -> None:
    page.goto(server + "/")
    page.wait_for_selector(".dash-link")
    titles = page.locator(".dash-link").all_inner_texts()
    assert any(t.startswith("Host") for t in titles)
    assert any(t.startswith("tidewatch") for t in titles)
    page.screenshot(path=str(artifacts / "dashboard-list.png"))
    assert not page.errors


@pytest.mark.parametrize("uid", ["tidewatch-host", "tidewatch-self"])
def test_shipped_dashboards_render_with_data(
    server: str, page: Any, artifacts: Path, uid: str
) -> None:
    states = open_dashboard(page, f"{server}/d/{uid}?from=now-5m&to=now", expand_rows=True)
    page.screenshot(path=str(artifacts / f"{uid}.png"), full_page=True)
    assert len(states) >= 12
    bad = [s for s in states if s["state"] != "done"]
    assert not bad, bad
    assert not page.errors
    # Variables resolved to the live job and instance, and are in the URL.
    job = var_value(page, "job")
    assert job in ("node", "tidewatch")
    assert f"var-job={job}" in page.url


def test_time_range_change_refetches(server: str, page: Any) -> None:
    open_dashboard(page, f"{server}/d/tidewatch-host?from=now-5m&to=now")
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.post_data or "") if "query_range" in r.url else None)
    page.select_option("select.range-select", "now-15m")
    page.wait_for_function(DRAWN, timeout=30_000)
    assert "from=now-15m" in page.url
    assert len(seen) >= 5
    starts = {m.group(1) for body in seen if (m := re.search(r"start=([\d.]+)", body))}
    now = time.time()
    # The refetch asked for the new, longer range.
    assert any(now - float(s) > 14 * 60 for s in starts), starts
    assert all(s["state"] == "done" for s in panel_states(page))


def metric_names(expr: str) -> set[str]:
    words = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{|\[|\)|$)", expr))
    return {w for w in words if w.startswith("node_")}


@pytest.mark.skipif(not SHARED_DASHBOARDS.is_dir(), reason="shared dashboards not present")
def test_shared_bsd_dashboard(server: str, page: Any, artifacts: Path) -> None:
    d = json.loads((SHARED_DASHBOARDS / "node-exporter-bsd.json").read_text())
    states = open_dashboard(page, f"{server}/d/{d['uid']}?from=now-5m&to=now", expand_rows=True)
    page.screenshot(path=str(artifacts / "node-exporter-bsd.png"), full_page=True)
    assert not page.errors
    assert var_value(page, "job") == "node"
    assert var_value(page, "node") != ""
    errors = [s for s in states if s["state"] == "error"]
    assert not errors, errors
    # A panel without data is only one whose node_* metrics the host collector lacks
    # (this dashboard is for FreeBSD: node_memory_size_bytes and friends).
    have = set(http("GET", server + "/api/v1/label/__name__/values").json()["data"])
    exprs = {}
    every = d["panels"] + [c for row in d["panels"] for c in row.get("panels", [])]
    for p in every:
        exprs[p.get("title", "")] = " ".join(t.get("expr", "") for t in p.get("targets", []))
    empty = [s["title"] for s in states if s["state"] == "nodata"]
    for title in empty:
        assert metric_names(exprs[title]) - have, f"{title} has all its metrics but no data"
    assert sum(s["state"] == "done" for s in states) >= 25


@pytest.mark.skipif(not SHARED_DASHBOARDS.is_dir(), reason="shared dashboards not present")
def test_shared_old_schema_dashboard_migrates(server: str, page: Any, artifacts: Path) -> None:
    hits = http("GET", server + "/api/search", {"query": "Node Exporter Full Old"}).json()
    assert hits, "old-schema dashboard was not provisioned"
    states = open_dashboard(page, f"{server}{hits[0]['url']}?from=now-5m&to=now")
    page.screenshot(path=str(artifacts / "node-exporter-full-old.png"), full_page=True)
    assert not page.errors
    # `rows` became row panels; graph and singlestat became timeseries, stat and gauge.
    assert page.locator(".row-header").count() >= 10
    types = {s["type"] for s in states}
    assert types <= {"timeseries", "stat", "gauge"}, types
    assert not [s for s in states if s["state"] == "error"]
    # It is written for node_exporter < 0.16 (node_cpu, node_memory_MemTotal, ...), names
    # the host collector does not export: the page says so instead of silently empty panels.
    notice = page.locator(".legacy-notice").inner_text()
    assert "node_exporter before 0.16" in notice and "node_cpu_seconds_total" in notice, notice
    d = json.loads((SHARED_DASHBOARDS / "node-exporter-full-old.json").read_text())
    exprs: dict[str, str] = {}
    for row in d["rows"]:
        for p in row.get("panels", []):
            text = " ".join(t.get("expr", "") for t in p.get("targets", []))
            exprs[p.get("title", "")] = exprs.get(p.get("title", ""), "") + " " + text
    have = set(http("GET", server + "/api/v1/label/__name__/values").json()["data"])
    assert "node_cpu" not in have and "node_cpu_seconds_total" in have
    # Its variables come from label_values(node_boot_time, ...): renamed too, so empty.
    assert var_value(page, "job") == var_value(page, "node") == ""
    empty_vars = ("$job", "$node", "$port")
    # Every empty panel is empty because of a renamed metric or one of those variables,
    # not because of a rendering gap.
    for s in states:
        if s["state"] == "nodata":
            expr = exprs[s["title"]]
            why = metric_names(expr) - have or [v for v in empty_vars if v in expr]
            assert why, f"{s['title']}: its metrics exist and it uses no empty variable"
    # A current-schema node_exporter dashboard gets no such notice.
    open_dashboard(page, f"{server}/d/tidewatch-host?from=now-5m&to=now")
    assert page.locator(".legacy-notice").count() == 0


def test_forty_panels_over_24h_draw_in_time(server: str, page: Any, artifacts: Path) -> None:
    open_dashboard(page, f"{server}/d/perf40?from=now-24h&to=now")  # warm-up (assets, caches)
    times = []
    for _ in range(3):
        page.goto(f"{server}/d/perf40?from=now-24h&to=now")
        page.wait_for_function(DRAWN, timeout=30_000)
        times.append(page.evaluate("window.__tw.drawnAt"))
    page.screenshot(path=str(artifacts / "perf40.png"), full_page=True)
    states = panel_states(page)
    assert len(states) == 40
    assert all(s["state"] == "done" for s in states), [s for s in states if s["state"] != "done"]
    median = sorted(times)[1]
    print(f"40 panels over 24 h, navigation to all drawn: {[round(t) for t in times]} ms")
    (artifacts / "perf40.txt").write_text(f"navigation to all panels drawn (ms): {times}\n")
    # The goal is 1.5 s on an idle machine; fail only when clearly off, allowing for the
    # other processes sharing these 2 cores (the load average scales the limit).
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    assert median < PERF_GOAL_MS * 2 * max(1.0, load), (times, load)


def variables_dashboard() -> dict[str, Any]:
    def query_var(name: str, query: str, **kw: Any) -> dict[str, Any]:
        return {"name": name, "type": "query", "query": {"query": query}, "sort": 1, **kw}

    text = (
        "csv=${env:csv};pipe=${env:pipe};regex=${env:regex};glob=${env};text=${env:text};"
        "c=$c;tb=$tb;iv=$iv;range=${__range_s};metric=$metric;names=${names:csv};qr=${qr:csv}"
    )
    return {
        "uid": "vars",
        "title": "Variables",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {"name": "env", "type": "custom", "query": "prod,staging : stg,dev"}
                | {"multi": True, "includeAll": True, "current": {"value": ["$__all"]}},
                {"name": "c", "type": "constant", "query": "k8s", "hide": 2},
                {"name": "tb", "type": "textbox", "query": "hello"},
                {"name": "iv", "type": "interval", "query": "1m,5m,1h"}
                | {"current": {"value": "5m"}},
                query_var("job", "label_values(up, job)", multi=True, includeAll=True),
                query_var("metric", "metrics(node_load1.*)"),
                query_var("names", "label_names()", regex="/^(job|instance)$/", multi=True)
                | {"current": {"value": ["instance", "job"]}},
                query_var("qr", "query_result(count by (job) (up))", regex='/job="([^"]+)"/')
                | {"multi": True, "includeAll": True},
            ]
        },
        "panels": [
            {"type": "text", "title": "t", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 3}}
            | {"options": {"mode": "markdown", "content": text}},
            {"type": "timeseries", "title": "by job", "gridPos": {"x": 0, "y": 3, "w": 24, "h": 8}}
            | {"targets": [{"expr": 'count by (job) (up{job=~"$job"})', "refId": "A"}]},
            {"type": "stat", "title": "up $job", "gridPos": {"x": 0, "y": 11, "w": 8, "h": 4}}
            | {"repeat": "job", "targets": [{"expr": 'up{job="$job"}', "refId": "A"}]},
            {"type": "row", "title": "Row $names", "gridPos": {"x": 0, "y": 15, "w": 24, "h": 1}}
            | {"repeat": "names", "collapsed": False, "panels": []},
            {
                "type": "text",
                "title": "label ${names}",
                "gridPos": {"x": 0, "y": 16, "w": 24, "h": 2},
            }
            | {"options": {"content": "name is ${names}"}},
        ],
    }


def test_variables_resolve_and_format(server: str, page: Any, artifacts: Path) -> None:
    body = json.dumps({"dashboard": variables_dashboard(), "overwrite": True}).encode()
    assert http("POST", server + "/api/dashboards/db", body=body).status == 200
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data or "") if "query_range" in r.url else None)
    states = open_dashboard(page, f"{server}/d/vars")
    page.screenshot(path=str(artifacts / "variables.png"), full_page=True)
    assert all(s["state"] == "done" for s in states), states
    titles = page.locator(".panel-title").all_inner_texts()
    # Repeated panels (one per job) and rows (one per label name), each with its value.
    assert {"up node", "up tidewatch", "label instance", "label job"} <= set(titles), titles
    rows = [t.split()[-2:] for t in page.locator(".row-header").all_inner_texts()]
    assert rows == [["Row", "instance"], ["Row", "job"]]
    text = page.locator(".text-panel").first.inner_text()
    assert text == (
        "csv=prod,stg,dev;pipe=prod|stg|dev;regex=(prod|stg|dev);glob={prod,stg,dev};text=All;"
        "c=k8s;tb=hello;iv=5m;range=3600;metric=node_load1;names=instance,job;qr=node,tidewatch"
    )
    # A multi-value "All" goes to Prometheus as an escaped regex alternation.
    assert any('job=~"(node|tidewatch)"' in urllib.parse.unquote_plus(b) for b in sent), sent
    # Picking one value updates the text, the URL and re-queries.
    page.click(".var-picker[data-var=env] .var-button")
    page.click(".var-picker[data-var=env] .var-option[data-value=dev]")  # replaces All
    page.click(".var-picker[data-var=env] .var-option[data-value=prod]")
    page.click(".var-picker[data-var=env] .var-option[data-value=prod]")  # and off again
    page.screenshot(path=str(artifacts / "variables-picker.png"))
    page.keyboard.press("Escape")  # closing the menu applies it, as in Grafana
    page.wait_for_function(DRAWN, timeout=30_000)
    assert "csv=dev;" in page.locator(".text-panel").first.inner_text()
    assert "var-env=dev" in page.url
    # The URL alone restores the selection.
    page.goto(f"{server}/d/vars?var-env=prod&var-env=stg&var-job=node")
    page.wait_for_function(DRAWN, timeout=30_000)
    assert "csv=prod,stg;" in page.locator(".text-panel").first.inner_text()
    assert var_value(page, "job") == "node"


def test_edit_json_model_and_save(server: str, page: Any, artifacts: Path) -> None:
    d = {"uid": "editme", "title": "Edit me", "panels": []}
    body = json.dumps({"dashboard": d, "overwrite": True}).encode()
    assert http("POST", server + "/api/dashboards/db", body=body).status == 200
    open_dashboard(page, f"{server}/d/editme")
    page.click("button:has-text('JSON')")
    model = json.loads(page.locator(".json-editor").input_value())
    model["title"] = "Edited"
    page.locator(".json-editor").fill(json.dumps(model))
    page.screenshot(path=str(artifacts / "json-model.png"))
    page.click(".modal button:has-text('Save')")
    page.wait_for_function("document.querySelector('.dash-title')?.textContent === 'Edited'")
    saved = http("GET", server + "/api/dashboards/uid/editme").json()
    assert saved["dashboard"]["title"] == "Edited"
    assert saved["meta"]["version"] == 2
    # A provisioned dashboard can only be saved as a copy.
    open_dashboard(page, f"{server}/d/tidewatch-self")
    page.click("button:has-text('JSON')")
    assert page.locator(".modal button:text-is('Save')").count() == 0
    page.click(".modal button:has-text('Save as copy')")
    page.wait_for_function(
        "document.querySelector('.dash-title')?.textContent === 'tidewatch copy'"
    )
    assert not page.errors


def test_explore_runs_a_promql_query(server: str, page: Any, artifacts: Path) -> None:
    page.goto(f"{server}/explore?from=now-5m&to=now&expr=up")
    page.wait_for_selector(".explore-graph[data-state=done]")
    page.wait_for_selector(".explore-table[data-state=done]")
    cells = page.locator(".explore-table td").all_inner_texts()
    assert "node" in cells and "tidewatch" in cells
    page.screenshot(path=str(artifacts / "explore.png"))
    page.fill(".explore-input", "sum(up")
    page.click("button:has-text('Run query')")
    page.wait_for_selector(".explore-graph[data-state=error]")
    assert page.locator(".explore-status").inner_text() != ""
    assert not page.errors


def test_alerting_page_rules_and_silences(server: str, page: Any, artifacts: Path) -> None:
    page.goto(f"{server}/alerting")
    page.wait_for_selector(".rule-row[data-state=firing]", timeout=30_000)
    assert "NodeScraped" in page.locator(".rule-row").first.inner_text()
    # "Silence" on a firing alert fills the matchers from its labels.
    page.locator(".alert-row button:has-text('Silence')").first.click()
    assert 'alertname="NodeScraped"' in page.input_value("input[name=matchers]")
    page.fill("input[name=comment]", "planned maintenance")
    page.fill("input[name=createdBy]", "ui-test")
    page.click("button:has-text('Create silence')")
    page.wait_for_selector(".silence-row[data-state=active]")
    row = page.locator(".silence-row[data-state=active]").first
    assert 'alertname="NodeScraped"' in row.inner_text()
    silence_id = row.get_attribute("data-id")
    page.screenshot(path=str(artifacts / "alerting.png"), full_page=True)
    row.locator("button:has-text('Expire')").click()
    page.wait_for_selector(f".silence-row[data-id='{silence_id}'][data-state=expired]")
    got = http("GET", f"{server}/api/v2/silence/{silence_id}").json()
    assert got["status"]["state"] == "expired"
    # A bad matcher is refused in the page, before any request.
    page.fill("input[name=matchers]", "not a matcher")
    page.fill("input[name=comment]", "x")
    page.click("button:has-text('Create silence')")
    assert "matchers look like" in page.locator(".import-msg").inner_text()
    assert not page.errors


def test_targets_page(server: str, page: Any, artifacts: Path) -> None:
    page.goto(f"{server}/targets")
    page.wait_for_selector(".target-row")
    assert page.locator(".target-row[data-health=up]").count() == 2
    headings = page.locator("h2").all_inner_texts()
    assert any(h.startswith("node (1/1 up)") for h in headings), headings
    page.screenshot(path=str(artifacts / "targets.png"), full_page=True)
    assert not page.errors


def test_status_page(server: str, page: Any, artifacts: Path) -> None:
    page.goto(f"{server}/status")
    page.wait_for_selector(".status-card")
    text = page.locator(".status-grid").inner_text()
    assert "node_cpu_seconds_total" in text or "prometheus_http_request_duration" in text
    assert "scrape_configs" in page.locator(".config-yaml").inner_text()
    page.screenshot(path=str(artifacts / "status.png"), full_page=True)
    assert not page.errors


def test_logs_dashboard_shows_pushed_lines(server: str, page: Any, artifacts: Path) -> None:
    now_ns = time.time_ns()
    streams = [
        {
            "stream": {"job": "web"},
            "values": [
                [str(now_ns - i * 10**9), f"level=info GET /item/{i} 200"] for i in range(20)
            ],
        },
        {
            "stream": {"job": "worker"},
            "values": [[str(now_ns - 5 * 10**9), "level=error job failed: disk full"]],
        },
    ]
    body = json.dumps({"streams": streams}).encode()
    req = urllib.request.Request(
        server + "/loki/api/v1/push",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 204
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            pytest.skip("the Loki push API is not mounted in this build")
        raise
    states = open_dashboard(page, f"{server}/d/tidewatch-logs?from=now-15m&to=now")
    page.screenshot(path=str(artifacts / "tidewatch-logs.png"), full_page=True)
    assert all(s["state"] == "done" for s in states), states
    lines = page.locator(".log-line").all_inner_texts()
    assert "level=error job failed: disk full" in lines
    assert len(lines) == 21
    assert var_value(page, "job") == "$__all"
    # Narrowing by the textbox variable re-queries Loki with a line filter.
    page.fill("input.var-input", "disk full")
    page.press("input.var-input", "Enter")
    page.wait_for_function(DRAWN, timeout=30_000)
    assert page.locator(".log-line").all_inner_texts() == ["level=error job failed: disk full"]
    page.locator(".log-row").first.click()
    assert "worker" in page.locator(".log-details").inner_text()
    assert not page.errors


def push_logs(server: str, streams: list[dict[str, Any]]) -> None:
    req = urllib.request.Request(
        server + "/loki/api/v1/push",
        data=json.dumps({"streams": streams}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 204


def test_explore_promql_completion(server: str, page: Any, artifacts: Path) -> None:
    page.goto(f"{server}/explore?from=now-5m&to=now")
    box = page.locator(".explore-input").first
    box.click()
    # Metric names as the name is typed.
    box.press_sequentially("node_load")
    page.wait_for_selector(".completion[data-value=node_load1]")
    page.click(".completion[data-value=node_load1]")
    assert box.input_value() == "node_load1"
    # Label names inside the braces, narrowed to the metric; accepting opens the value.
    box.press_sequentially("{")
    page.wait_for_selector(".completion[data-value=job]")
    assert page.locator(".completion[data-value=__name__]").count() == 0
    page.screenshot(path=str(artifacts / "explore-completion.png"))
    page.click(".completion[data-value=job]")
    assert box.input_value() == 'node_load1{job="'
    # Label values, from /api/v1/label/job/values for this metric only.
    page.wait_for_selector(".completion[data-value=node]")
    assert page.locator(".completion[data-value=tidewatch]").count() == 0
    page.keyboard.press("Tab")
    assert box.input_value() == 'node_load1{job="node"'
    box.press_sequentially("}")
    page.click("button:has-text('Run query')")
    page.wait_for_selector(".explore-table[data-state=done]")
    assert "node" in page.locator(".explore-table td").all_inner_texts()
    assert not page.errors


def test_explore_logql_lines_tail_and_split(server: str, page: Any, artifacts: Path) -> None:
    now_ns = time.time_ns()
    lines = [
        [str(now_ns - i * 10**9), f'level=info msg="order {i} shipped" id={i}'] for i in range(5)
    ]
    push_logs(server, [{"stream": {"job": "shop", "env": "prod"}, "values": lines}])
    query = urllib.parse.quote('{job="shop"}')
    page.goto(f"{server}/explore?ds=loki&expr={query}&from=now-15m&to=now")
    page.wait_for_selector(".explore-logs[data-state=done]")
    page.wait_for_selector(".explore-volume[data-state=done] canvas")  # lines per interval
    rows = page.locator(".explore-logs .log-row")
    assert rows.count() == 5
    # Newest first, each with its time and stream labels.
    first = rows.first.inner_text()
    assert 'msg="order 0 shipped"' in first and "job=shop" in first
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", first)
    rows.first.click()
    details = page.locator(".log-details").inner_text()
    assert "env" in details and "prod" in details  # stream labels
    assert "order 0 shipped" in details  # logfmt fields parsed from the line
    page.screenshot(path=str(artifacts / "explore-logs.png"))
    assert "Loki" in page.locator(".ds-select").first.evaluate("s => s.selectedOptions[0].text")

    # Stream selectors complete from Loki's label API.
    box = page.locator(".explore-input").first
    box.fill("")
    box.press_sequentially("{en")
    page.wait_for_selector(".completion[data-value=env]")
    page.keyboard.press("Enter")
    page.wait_for_selector(".completion[data-value=prod]")
    page.keyboard.press("Enter")
    assert box.input_value() == '{env="prod"'
    box.fill('{job="shop"}')

    # Live tail: a line pushed now appears without running the query again.
    page.click("button:has-text('Live')")
    page.wait_for_selector(".explore-logs[data-state=live] .log-row")
    push_logs(server, [{"stream": {"job": "shop"}, "values": [[str(time.time_ns()), "tail me"]]}])
    page.wait_for_selector(".explore-logs .log-line:text-is('tail me')", timeout=15_000)
    assert page.locator(".explore-logs .log-row").first.inner_text().endswith("tail me")
    page.click("button:has-text('Stop')")

    # Split: metrics beside the logs, both over the one time range.
    page.click("button:has-text('Split')")
    second = page.locator(".explore-pane").nth(1)
    assert second.locator(".ds-select").input_value() == "prometheus"
    second.locator(".explore-input").fill("up")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url + " " + (r.post_data or "")))
    page.select_option("select.range-select", "now-30m")
    page.wait_for_selector(".explore-pane >> nth=1 >> .explore-graph[data-state=done]")
    page.wait_for_selector(".explore-logs[data-state=done]")
    assert "expr2=up" in page.url and "from=now-30m" in page.url
    loki = [s for s in sent if "/loki/api/v1/query_range" in s]
    prom = [s for s in sent if "/api/v1/query_range" in s and "/loki/" not in s]
    assert loki and prom
    loki_start = int(
        urllib.parse.parse_qs(urllib.parse.urlparse(loki[0].split()[0]).query)["start"][0]
    )
    prom_start = float(urllib.parse.parse_qs(prom[0].split(" ", 1)[1])["start"][0])
    assert abs(loki_start / 1e9 - prom_start) < 120  # same range (prom aligns to its step)
    assert time.time() - prom_start > 29 * 60
    page.screenshot(path=str(artifacts / "explore-split.png"))
    assert not page.errors


def post_dashboard(server: str, dash: dict[str, Any]) -> None:
    body = json.dumps({"dashboard": dash, "overwrite": True}).encode()
    assert http("POST", server + "/api/dashboards/db", body=body).status == 200


def test_panel_editor_edits_adds_removes_and_saves(server: str, page: Any, artifacts: Path) -> None:
    grid = {"x": 0, "y": 0, "w": 12, "h": 8}
    post_dashboard(
        server,
        {
            "uid": "paneledit",
            "title": "Panel edit",
            "panels": [
                {"id": 1, "type": "timeseries", "title": "Old title", "gridPos": grid}
                | {"targets": [{"refId": "A", "expr": "up"}]},
                {"id": 2, "type": "stat", "title": "Doomed", "gridPos": grid | {"x": 12}}
                | {"targets": [{"refId": "A", "expr": "up"}]},
            ],
        },
    )
    page.on("dialog", lambda d: d.accept())
    open_dashboard(page, f"{server}/d/paneledit?from=now-5m&to=now")
    page.hover(".panel[data-panel-id='1']")
    page.click(".panel[data-panel-id='1'] .panel-edit")
    ed = page.locator(".panel-editor")
    ed.locator("input[name=title]").fill("Requests by job")
    ed.locator(".query-row[data-ref=A] textarea[name=expr]").fill("sum by (job) (up)")
    ed.locator(".query-row[data-ref=A] input[name=legendFormat]").fill("{{job}}")
    ed.locator("button:has-text('+ Query')").click()
    ed.locator(".query-row[data-ref=B] textarea[name=expr]").fill("count(up)")
    ed.locator(".query-row[data-ref=B] input[name=legendFormat]").fill("total")
    ed.locator("input[name=unit]").fill("percentunit")
    ed.locator("input[name=decimals]").fill("1")
    ed.locator("input[name=min]").fill("0")
    ed.locator("input[name=max]").fill("3")
    ed.locator("input[name=threshold-value]").fill("0.5")
    ed.locator("input[name=threshold-value]").press("Tab")
    ed.locator(".th-row", has_text="Base").locator("input[name=threshold-color]").fill("blue")
    # The preview follows the draft: both queries, their legends, the unit on the axis.
    preview = ed.locator(".editor-preview .panel[data-state=done][data-series='3']")
    preview.wait_for(timeout=15_000)
    legend = preview.locator(".lg-name").all_inner_texts()
    assert legend == ["node", "tidewatch", "total"], legend
    preview.locator(".u-over").hover()  # the tooltip formats with the unit and decimals
    tip = preview.locator(".tooltip").inner_text()
    assert re.search(r"node\s+100\.0%", tip), tip
    ed.locator("select[name=type]").select_option("stat")
    ed.locator(".editor-preview .panel[data-type=stat][data-state=done]").wait_for()
    ed.locator("select[name=type]").select_option("timeseries")
    ed.locator(".editor-preview .panel[data-type=timeseries][data-state=done]").wait_for()
    page.screenshot(path=str(artifacts / "panel-editor.png"))
    ed.locator("button:has-text('Save dashboard')").click()
    ed.wait_for(state="detached")
    page.wait_for_function(DRAWN, timeout=30_000)
    assert "Requests by job" in page.locator(".panel-title").all_inner_texts()

    saved = http("GET", server + "/api/dashboards/uid/paneledit").json()
    assert saved["meta"]["version"] == 2
    p1 = next(p for p in saved["dashboard"]["panels"] if p["id"] == 1)
    assert p1["title"] == "Requests by job"
    assert [(t["refId"], t["expr"], t["legendFormat"]) for t in p1["targets"]] == [
        ("A", "sum by (job) (up)", "{{job}}"),
        ("B", "count(up)", "total"),
    ]
    defaults = p1["fieldConfig"]["defaults"]
    assert (defaults["unit"], defaults["decimals"], defaults["min"], defaults["max"]) == (
        "percentunit",
        1,
        0,
        3,
    )
    assert defaults["thresholds"]["steps"] == [
        {"value": None, "color": "blue"},
        {"value": 0.5, "color": "red"},
    ]

    # Remove one panel, add another, save from the toolbar.
    page.hover(".panel[data-panel-id='2']")
    page.click(".panel[data-panel-id='2'] .panel-remove")
    page.click("button:has-text('+ Add panel')")
    ed.locator("input[name=title]").fill("Added")
    ed.locator(".query-row[data-ref=A] textarea[name=expr]").fill("up")
    ed.locator(".editor-preview .panel[data-state=done]").wait_for()
    ed.locator("button:has-text('Apply')").click()
    page.click("button.save-dash")
    page.wait_for_function("document.querySelector('button.save-dash').textContent === 'Save'")
    saved = http("GET", server + "/api/dashboards/uid/paneledit").json()
    assert saved["meta"]["version"] == 3
    assert sorted(p["title"] for p in saved["dashboard"]["panels"]) == ["Added", "Requests by job"]

    # Reloaded, the page's model is exactly what was saved, and the editor shows it.
    open_dashboard(page, f"{server}/d/paneledit?from=now-5m&to=now")
    assert all(s["state"] == "done" for s in panel_states(page))
    page.click("button:has-text('JSON')")
    assert json.loads(page.locator(".json-editor").input_value()) == saved["dashboard"]
    page.click(".modal button:has-text('✕')")
    page.hover(".panel[data-panel-id='1']")
    page.click(".panel[data-panel-id='1'] .panel-edit")
    assert ed.locator("input[name=title]").input_value() == "Requests by job"
    assert ed.locator("input[name=unit]").input_value() == "percentunit"
    assert ed.locator(".query-row").count() == 2
    ed.locator("button:has-text('Discard')").click()
    assert not page.errors


DEPLOYS = (
    'label_replace(label_replace(vector(time() % 240 >= bool 120), "job", "node", "", ""),'
    ' "instance", "web-1", "", "")'
)


def overrides_dashboard() -> dict[str, Any]:
    series = {
        "type": "timeseries",
        "title": "overrides",
        "gridPos": {"x": 0, "y": 0, "w": 24, "h": 10},
        "targets": [
            {"refId": "A", "expr": 'up{job="node"}', "legendFormat": "{{job}}"},
            {"refId": "B", "expr": "vector(5)", "legendFormat": "five"},
        ],
        "fieldConfig": {
            "defaults": {"unit": "short"},
            "overrides": [
                {"matcher": {"id": "byType", "options": "number"}}
                | {"properties": [{"id": "decimals", "value": 2}]},
                {"matcher": {"id": "byFrameRefID", "options": "B"}}
                | {
                    "properties": [
                        {"id": "color", "value": {"mode": "fixed", "fixedColor": "purple"}}
                    ]
                },
                {
                    "matcher": {
                        "id": "byValue",
                        "options": {"reducer": "max", "op": "gte", "value": 3},
                    }
                }
                | {"properties": [{"id": "unit", "value": "percent"}]},
                {
                    "matcher": {
                        "id": "byValue",
                        "options": {"reducer": "mean", "op": "lt", "value": 0},
                    }
                }
                | {"properties": [{"id": "unit", "value": "bytes"}]},
            ],
        },
    }
    annotations = [
        {"builtIn": 1, "name": "Annotations & Alerts", "enable": True, "type": "dashboard"},
        # On for two minutes of every four: at least one region in any 6 minutes.
        {"name": "Node up", "enable": True, "iconColor": "red", "expr": DEPLOYS}
        | {"step": "30s", "titleFormat": "{{job}} is up", "textFormat": "on {{instance}}"}
        | {"tagKeys": "job"},
        {"name": "Ticks", "enable": True, "iconColor": "blue", "step": "30s"}
        | {"expr": "vector(time() % 120 < bool 30)", "titleFormat": "tick"},
    ]
    return {
        "uid": "overrides",
        "title": "Overrides, annotations, time zone",
        "timezone": "utc",
        "annotations": {"list": annotations},
        "panels": [series],
    }


def test_overrides_annotations_and_timezone(server: str, browser: Any, artifacts: Path) -> None:
    post_dashboard(server, overrides_dashboard())
    # The browser is 5:30 ahead of UTC, so a time shown in the wrong zone is obvious.
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="Asia/Kolkata")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.post_data or "") if "query_range" in r.url else None)
    try:
        now_ms = int(time.time() * 1000)
        start = now_ms - 6 * 60_000
        page.goto(f"{server}/d/overrides?from={start}&to={now_ms}")
        page.wait_for_function(DRAWN, timeout=30_000)
        panel = page.locator(".panel[data-type=timeseries]")
        assert panel.get_attribute("data-state") == "done"

        # Time zone: the picker and tooltips speak UTC, whatever the browser's zone.
        shown = page.input_value("input[name=from]")
        utc = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start // 1000))
        assert shown == utc, (shown, utc)
        assert page.locator("select.tz-select").input_value() == "utc"
        box = panel.locator(".u-over").bounding_box()
        # Near the right edge both series have points (node is only as old as the server).
        for frac in (0.99, 0.98, 0.96, 0.94, 0.92, 0.9, 0.85, 0.8, 0.7):
            page.mouse.move(box["x"] + box["width"] * frac, box["y"] + box["height"] / 2)
            tip = panel.locator(".tooltip:not(.annotation-tip)").inner_text()
            if "node" in tip:
                break
        page.screenshot(path=str(artifacts / "annotations.png"))
        hovered = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", tip)
        assert hovered, tip
        t = time.mktime(time.strptime(hovered.group(0) + " UTC", "%Y-%m-%d %H:%M:%S %Z"))
        t -= time.timezone  # mktime took it as local time; the test runner's zone is UTC-based
        assert start / 1000 - 60 <= t <= now_ms / 1000 + 60, (tip, start, now_ms)

        # Overrides: byType (decimals on all), byFrameRefID (colour), byValue (unit).
        assert re.search(r"node\s*1\.00(?!%)", tip), tip
        assert re.search(r"five\s*5\.00%", tip), tip
        swatches = panel.locator(".legend .swatch").evaluate_all(
            "els => els.map(e => getComputedStyle(e).backgroundColor)"
        )
        assert swatches[1] == "rgb(184, 119, 217)", swatches  # Grafana's "purple"

        # Annotations: a region while node is up, points for the ticks, with tooltips.
        regions = panel.locator(".annotation-marker.region[data-title='node is up']")
        ticks = panel.locator(".annotation-marker:not(.region)[data-title=tick]")
        assert regions.count() >= 1
        assert ticks.count() >= 2
        page.mouse.move(0, 0)
        regions.first.hover()
        ann = panel.locator(".annotation-tip").inner_text()
        assert "node is up" in ann and "on web-1" in ann and " to " in ann, ann
        page.screenshot(path=str(artifacts / "annotations.png"))
        assert any("step=30" in body and "time%28%29" in body for body in sent), sent
        # Toggling an annotation off removes its markers.
        page.locator(".annotation-toggle[data-annotation=Ticks] input").uncheck()
        page.wait_for_function(DRAWN, timeout=30_000)
        assert ticks.count() == 0
        assert regions.count() >= 1

        # Switching to the browser's zone shows the same instant in Kolkata time.
        page.select_option("select.tz-select", "browser")
        kolkata = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start // 1000 + 5 * 3600 + 1800))
        assert page.input_value("input[name=from]") == kolkata
        # A typed absolute time is read in the dashboard's zone.
        page.select_option("select.tz-select", "utc")
        page.fill("input[name=from]", utc)
        page.click("button:text-is('Apply')")
        page.wait_for_function(DRAWN, timeout=30_000)
        assert f"from={start // 1000 * 1000}" in page.url, page.url
        assert not errors
    finally:
        ctx.close()


THRESHOLD_MODES = ["line", "dashed", "area", "line+area", "off"]

# Per panel: the share of the threshold row drawn as an opaque red line, and the colour
# of the plot well above and below the threshold (away from the series at 5, and off the
# grid lines, whose crossings would add their own faint colour).
THRESHOLD_PIXELS = """panel => {
  const u = panel.querySelector('.ts-plot')._uplot;
  const c = u.ctx;
  const { left, width } = u.bbox;
  const y = (v) => Math.round(u.valToPos(v, 'y', true));
  const lineShare = (row) => {
    const d = c.getImageData(Math.round(left), row, Math.round(width), 1).data;
    let hits = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 120 && d[i] > d[i + 1] + 50) hits++;
    return hits / (d.length / 4);
  };
  const px = (v) => Array.from(c.getImageData(Math.round(left + width * 0.37), y(v), 1, 1).data);
  const series = Math.max(lineShare(y(5) - 1), lineShare(y(5)), lineShare(y(5) + 1));
  return { line: Math.max(lineShare(y(7)), lineShare(y(7) - 1)), above: px(8.5), below: px(2.5), series };
}"""


def thresholds_dashboard() -> dict[str, Any]:
    steps = [{"value": None, "color": "green"}, {"value": 7, "color": "red"}]
    panels = [
        {
            "id": i + 1,
            "type": "timeseries",
            "title": f"thresholds {mode}",
            "gridPos": {"x": (i % 3) * 8, "y": (i // 3) * 8, "w": 8, "h": 8},
            "targets": [{"refId": "A", "expr": "vector(5)"}],
            "options": {"legend": {"showLegend": False}},
            "fieldConfig": {
                "defaults": {
                    "min": 0,
                    "max": 10,
                    "thresholds": {"mode": "absolute", "steps": steps},
                    "custom": {"thresholdsStyle": {"mode": mode}},
                },
                "overrides": [],
            },
        }
        for i, mode in enumerate(THRESHOLD_MODES)
    ]
    # Percentage steps are relative to the axis: 70% of 0..10 is the same line at 7.
    percent = json.loads(json.dumps(panels[3]))
    percent |= {"id": len(panels) + 1, "title": "thresholds percentage"}
    percent["gridPos"] |= {"x": 16, "y": 8}
    percent["fieldConfig"]["defaults"]["thresholds"] = {
        "mode": "percentage",
        "steps": [{"value": None, "color": "green"}, {"value": 70, "color": "red"}],
    }
    # Colour scheme "From thresholds": the series at 5 is above the step at 3, so red.
    by_value = json.loads(json.dumps(panels[4]))
    by_value |= {"id": len(panels) + 2, "title": "series coloured by thresholds"}
    by_value["gridPos"] |= {"x": 0, "y": 16}
    by_value["fieldConfig"]["defaults"] |= {
        "color": {"mode": "thresholds"},
        "thresholds": {
            "mode": "absolute",
            "steps": [{"value": None, "color": "green"}, {"value": 3, "color": "red"}],
        },
    }
    return {
        "uid": "thresholds",
        "title": "Threshold styles",
        "panels": [*panels, percent, by_value],
    }


def test_threshold_lines_and_areas(server: str, page: Any, artifacts: Path) -> None:
    post_dashboard(server, thresholds_dashboard())
    states = open_dashboard(page, f"{server}/d/thresholds?from=now-5m&to=now")
    assert all(s["state"] == "done" for s in states), states
    page.screenshot(path=str(artifacts / "thresholds.png"))
    drawn = {}
    for i, mode in enumerate(THRESHOLD_MODES):
        panel = page.locator(f".panel[data-panel-id='{i + 1}']")
        drawn[mode] = panel.evaluate(THRESHOLD_PIXELS)

    def tinted(px: list[int], red: bool) -> bool:
        r, g, _, a = px
        return a >= 30 and (r > g + 50 if red else g > r + 50)

    percent = page.locator(f".panel[data-panel-id='{len(THRESHOLD_MODES) + 1}']")
    drawn["percentage"] = percent.evaluate(THRESHOLD_PIXELS)
    by_value = page.locator(f".panel[data-panel-id='{len(THRESHOLD_MODES) + 2}']")
    drawn["by value"] = by_value.evaluate(THRESHOLD_PIXELS)
    assert drawn["by value"]["series"] > 0.5, drawn["by value"]
    assert drawn["off"]["series"] < 0.05, drawn["off"]  # the palette's green
    # Solid lines cover the whole row; dashes (10 on, 10 off) about half of it.
    assert drawn["line"]["line"] > 0.9, drawn["line"]
    assert drawn["line+area"]["line"] > 0.9, drawn["line+area"]
    assert drawn["percentage"]["line"] > 0.9, drawn["percentage"]
    assert 0.3 < drawn["dashed"]["line"] < 0.7, drawn["dashed"]
    assert drawn["area"]["line"] < 0.05, drawn["area"]
    assert drawn["off"]["line"] < 0.05, drawn["off"]
    # Areas: red above the step at 7, the base colour (green) below it.
    for mode in ("area", "line+area", "percentage"):
        assert tinted(drawn[mode]["above"], red=True), (mode, drawn[mode])
        assert tinted(drawn[mode]["below"], red=False), (mode, drawn[mode])
    for mode in ("line", "dashed", "off"):
        assert drawn[mode]["above"][3] < 30 and drawn[mode]["below"][3] < 30, (mode, drawn[mode])
    assert not page.errors


# A matcher and property the editor has no form for: shown, and kept as they are.
KEPT_OVERRIDE = {
    "matcher": {"id": "byFrameRefID", "options": "A"},
    "properties": [{"id": "custom.lineWidth", "value": 2}],
}


def test_panel_editor_mappings_legend_overrides(server: str, page: Any, artifacts: Path) -> None:
    grid = {"x": 0, "y": 0, "w": 12, "h": 8}
    post_dashboard(
        server,
        {
            "uid": "editfields",
            "title": "Edit field options",
            "panels": [
                {"id": 1, "type": "timeseries", "title": "up by job", "gridPos": grid}
                | {"targets": [{"refId": "A", "expr": "up", "legendFormat": "{{job}}"}]}
                | {"fieldConfig": {"defaults": {}, "overrides": [KEPT_OVERRIDE]}},
                {"id": 2, "type": "stat", "title": "state", "gridPos": grid | {"x": 12}}
                | {"targets": [{"refId": "A", "expr": "vector(1)"}]},
            ],
        },
    )
    open_dashboard(page, f"{server}/d/editfields?from=now-5m&to=now")
    ed = page.locator(".panel-editor")

    # Value mappings on the stat: 1 → "UP" in blue, and a range row.
    page.hover(".panel[data-panel-id='2']")
    page.click(".panel[data-panel-id='2'] .panel-edit")
    ed.locator("button.add-mapping").click()
    row = ed.locator(".mapping-row[data-index='0']")
    row.locator("input[name=mapping-value]").fill("1")
    row.locator("input[name=mapping-text]").fill("UP")
    row.locator("input[name=mapping-color]").fill("blue")
    ed.locator("button.add-mapping").click()
    row = ed.locator(".mapping-row[data-index='1']")
    row.locator("select[name=mapping-type]").select_option("range")
    row.locator("input[name=mapping-from]").fill("2")
    row.locator("input[name=mapping-to]").fill("10")
    row.locator("input[name=mapping-text]").fill("MANY")
    stat = ed.locator(".editor-preview .panel[data-type=stat][data-state=done]")
    stat.locator(".stat-value", has_text="UP").wait_for(timeout=15_000)
    value_color = stat.locator(".stat-value").evaluate("e => getComputedStyle(e).color")
    assert value_color == "rgb(87, 148, 242)", value_color  # Grafana's "blue"
    ed.locator("button:has-text('Apply')").click()
    ed.wait_for(state="detached")

    # Legend and overrides on the time series.
    page.hover(".panel[data-panel-id='1']")
    page.click(".panel[data-panel-id='1'] .panel-edit")
    ed.locator("select[name=legend-mode]").select_option("table")
    ed.locator("select[name=legend-placement]").select_option("right")
    ed.locator("input[name=legend-calc][value=max]").check()
    ed.locator("input[name=legend-calc][value=mean]").check()
    ed.locator("button.add-override").click()
    assert "byFrameRefID" in ed.locator(".override[data-index='0']").inner_text()
    ov = ed.locator(".override[data-index='1']")
    ov.locator("input[name=override-matcher-value]").fill("node")
    ov.locator("button.add-override-prop").click()
    ov.locator(".override-prop").nth(0).locator("input[name=override-prop-value]").fill(
        "Node exporter"
    )
    ov.locator("button.add-override-prop").click()
    ov.locator(".override-prop").nth(1).locator("select[name=override-prop-id]").select_option(
        "unit"
    )
    ov.locator(".override-prop").nth(1).locator("input[name=override-prop-value]").fill("percent")
    ov.locator("button.add-override-prop").click()
    ov.locator(".override-prop").nth(2).locator("select[name=override-prop-id]").select_option(
        "color"
    )
    ov.locator(".override-prop").nth(2).locator("input[name=override-prop-value]").fill("purple")
    ed.locator("button.add-override").click()
    ov = ed.locator(".override[data-index='2']")
    ov.locator("select[name=override-matcher-id]").select_option("byRegexp")
    ov.locator("input[name=override-matcher-value]").fill("tide.*")
    ov.locator("button.add-override-prop").click()
    ov.locator("input[name=override-prop-value]").fill("self")
    ed.locator("select[name=threshold-style]").select_option("dashed")

    preview = ed.locator(".editor-preview .panel[data-type=timeseries][data-state=done]")
    preview.locator(".lg-name", has_text="Node exporter").wait_for(timeout=15_000)
    preview.locator(".lg-name", has_text="self").wait_for(timeout=15_000)
    assert preview.locator(".ts.legend-right .legend-table").count() == 1
    assert preview.locator(".lg-head").inner_text().split() == ["Mean", "Max"]
    node_row = preview.locator(".lg-row", has_text="Node exporter").inner_text()
    assert node_row.split()[-2:] == ["1%", "1%"], node_row
    swatch = preview.locator(".lg-row", has_text="Node exporter").locator(".swatch")
    assert swatch.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(184, 119, 217)"
    page.screenshot(path=str(artifacts / "panel-editor-fields.png"))
    ed.locator("button:has-text('Save dashboard')").click()
    ed.wait_for(state="detached")
    page.wait_for_function(DRAWN, timeout=30_000)
    assert page.locator(".panel[data-panel-id='2'] .stat-value").inner_text() == "UP"

    saved = http("GET", server + "/api/dashboards/uid/editfields").json()["dashboard"]
    p1, p2 = sorted(saved["panels"], key=lambda p: p["id"])
    assert p2["fieldConfig"]["defaults"]["mappings"] == [
        {"type": "value", "options": {"1": {"index": 0, "text": "UP", "color": "blue"}}},
        {"type": "range", "options": {"from": 2, "to": 10, "result": {"index": 1, "text": "MANY"}}},
    ]
    assert p1["options"]["legend"] == {
        "displayMode": "table",
        "placement": "right",
        "showLegend": True,
        "calcs": ["mean", "max"],
    }
    assert p1["fieldConfig"]["overrides"] == [
        KEPT_OVERRIDE,
        {
            "matcher": {"id": "byName", "options": "node"},
            "properties": [
                {"id": "displayName", "value": "Node exporter"},
                {"id": "unit", "value": "percent"},
                {"id": "color", "value": {"mode": "fixed", "fixedColor": "purple"}},
            ],
        },
        {
            "matcher": {"id": "byRegexp", "options": "tide.*"},
            "properties": [{"id": "displayName", "value": "self"}],
        },
    ]
    assert p1["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "dashed"}

    # Reopened, the editor shows what was saved; hiding the legend removes it.
    page.hover(".panel[data-panel-id='1']")
    page.click(".panel[data-panel-id='1'] .panel-edit")
    assert ed.locator("select[name=legend-mode]").input_value() == "table"
    assert ed.locator(".override").count() == 3
    renamed = ed.locator(".override[data-index='2'] input[name=override-prop-value]")
    assert renamed.input_value() == "self"
    ed.locator("select[name=legend-mode]").select_option("hidden")
    ed.locator(".editor-preview .panel[data-state=done]").wait_for()
    page.wait_for_function(
        "!document.querySelector('.editor-preview .legend')"
        " && document.querySelector('.editor-preview .ts-plot')"
    )
    ed.locator("button:has-text('Discard')").click()
    assert not page.errors


def test_loki_annotations(server: str, page: Any, artifacts: Path) -> None:
    now_ns = time.time_ns()
    push_logs(
        server,
        [
            {
                "stream": {"app": "deploys", "env": "prod"},
                "values": [
                    [str(now_ns - 150 * 10**9), "deployed v1.2.3"],
                    [str(now_ns - 90 * 10**9), "restart after OOM"],
                    [str(now_ns - 60 * 10**9), "deployed v1.2.4"],
                ],
            }
        ],
    )
    annotations = [
        {"name": "Deploys", "enable": True, "iconColor": "green", "tagKeys": "env"}
        | {"datasource": {"type": "loki", "uid": "loki"}, "titleFormat": "deploy {{app}}"}
        | {"expr": '{app="deploys"} |= "deployed"'},
        # Grafana 8+ keeps the query under `target`.
        {"name": "Restarts", "enable": True, "iconColor": "orange"}
        | {"datasource": {"type": "loki", "uid": "tidewatch-loki"}}
        | {"target": {"expr": '{app="deploys"} |= "restart"'}, "textFormat": "on {{env}}"},
    ]
    panel = {"id": 1, "type": "timeseries", "title": "with log events"} | {
        "gridPos": {"x": 0, "y": 0, "w": 24, "h": 10},
        "targets": [{"refId": "A", "expr": "vector(1)"}],
    }
    post_dashboard(
        server,
        {"uid": "lokiann", "title": "Loki annotations"}
        | {"annotations": {"list": annotations}, "panels": [panel]},
    )
    sent: list[str] = []
    page.on(
        "request", lambda r: sent.append(r.url) if "/loki/api/v1/query_range" in r.url else None
    )
    open_dashboard(page, f"{server}/d/lokiann?from=now-5m&to=now")
    ts = page.locator(".panel[data-type=timeseries]")
    deploys = ts.locator(".annotation-marker[data-title='deploy deploys']")
    restarts = ts.locator(".annotation-marker[data-title='']")
    assert deploys.count() == 2
    assert restarts.count() == 1
    # Markers sit at the lines' times: the later deploy right of the restart.
    xs = [m.bounding_box()["x"] for m in deploys.all()]
    restart_x = restarts.first.bounding_box()["x"]
    assert min(xs) < restart_x < max(xs), (xs, restart_x)
    deploys.last.hover()
    tip = ts.locator(".annotation-tip").inner_text()
    assert "deploy deploys" in tip and "deployed v1.2.4" in tip and "prod" in tip, tip
    page.screenshot(path=str(artifacts / "loki-annotations.png"))
    restarts.first.hover()
    assert "on prod" in ts.locator(".annotation-tip").inner_text()
    queries = [urllib.parse.parse_qs(urllib.parse.urlparse(u).query)["query"][0] for u in sent]
    assert '{app="deploys"} |= "deployed"' in queries, queries
    assert '{app="deploys"} |= "restart"' in queries, queries
    assert not page.errors
