"""Loki ruler rules: LogQL rule files loaded, validated and evaluated by the same
rule groups as PromQL rules, over an in-memory log store."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from tests.rules.helpers import lbls, series
from tidewatch.config.model import Config
from tidewatch.labels import from_dict
from tidewatch.logs.logql.store import MemoryLogStore
from tidewatch.promql.engine import Engine, QueryError
from tidewatch.rules.alerting import AlertingRule, AlertState
from tidewatch.rules.group import Group, GroupOptions
from tidewatch.rules.logrules import LogRulerConfig, log_rule_files, logql_query_func, ruler_config
from tidewatch.rules.manager import RuleManager
from tidewatch.rules.notifier import NotifyAlert
from tidewatch.rules.rulefile import LOGQL, RuleFileError, parse_rule_text
from tidewatch.rules.teststore import UnitTestStorage
from tidewatch.web.api_loki_rules import LokiRulesAPI
from tidewatch.web.api_rules import RulesAPI

S = 1_000_000_000  # ns per second
T0 = 1_700_000_000_000  # ms

LOG_RULES = """
groups:
  - name: app-logs
    interval: 1m
    limit: 10
    rules:
      - record: level:app_lines:count1m
        expr: sum by (level) (count_over_time({job="app"}[1m]))
      - alert: ManyErrors
        expr: sum by (level)(count_over_time({job="app"} |= "error" [1m])) > 3
        for: 2m
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.level }}: {{ $value }} error lines"
"""


def _store_with_errors(n: int, at_ms: int) -> MemoryLogStore:
    store = MemoryLogStore()
    for i in range(n):
        ts = (at_ms - 30_000) * 1_000_000 + i
        store.push(from_dict({"job": "app", "level": "error"}), ts, f"error number {i}")
    store.push(from_dict({"job": "app", "level": "info"}), (at_ms - 1000) * 1_000_000, "all fine")
    store.push(from_dict({"job": "other", "level": "error"}), (at_ms - 1000) * 1_000_000, "error")
    return store


# --------------------------------------------------------------------- loading


def test_log_rule_file_parses_with_logql() -> None:
    (g,) = parse_rule_text(LOG_RULES, "logs.yml", language=LOGQL)
    assert g.language == LOGQL and g.limit == 10 and g.interval_ms == 60_000
    rec, alert = g.rules
    assert rec.record == "level:app_lines:count1m" and rec.language == LOGQL
    # The LogQL text is kept for the LogQL query function.
    assert rec.expr_ast == rec.expr
    assert alert.for_ms == 120_000 and alert.keep_firing_for_ms == 60_000


def test_log_rule_file_is_not_promql() -> None:
    with pytest.raises(RuleFileError) as info:
        parse_rule_text(LOG_RULES, "logs.yml")
    assert "could not parse expression" in str(info.value)


def test_log_query_expr_is_refused_with_file_and_position() -> None:
    text = (
        "groups:\n"
        "  - name: g\n"
        "    rules:\n"
        "      - alert: Lines\n"
        '        expr: \'{job="app"} |= "error"\'\n'
    )
    with pytest.raises(RuleFileError) as info:
        parse_rule_text(text, "logs.yml", language=LOGQL)
    (err,) = info.value.errors
    assert err.startswith('logs.yml: 5:15: group "g", rule 1, "Lines": ')
    assert "log query" in err and "metric query" in err


def test_bad_logql_names_position_inside_expression() -> None:
    text = (
        "groups:\n"
        "  - name: g\n"
        "    rules:\n"
        "      - record: x\n"
        "        expr: 'sum(count_over_time({job=\"app\"} |= [1m]))'\n"
        "      - record: 'bad name'\n"
        "        expr: 'sum(count_over_time({job=\"app\"}[1m]))'\n"
    )
    with pytest.raises(RuleFileError) as info:
        parse_rule_text(text, "logs.yml", language=LOGQL)
    first, second = info.value.errors
    assert first.startswith('logs.yml: 5:15: group "g", rule 1, "x": could not parse expression:')
    assert "parse error at line 1, col " in first
    assert "invalid recording rule name: bad name" in second


def test_promql_rule_files_are_unchanged() -> None:
    (g,) = parse_rule_text(
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(up)\n", "p.yml"
    )
    assert g.language == "promql" and not isinstance(g.rules[0].expr_ast, str)


def _cfg(tmp_path: Path, ruler: Any, prom_rules: list[str] | None = None) -> Config:
    cfg = Config()
    cfg.source_path = str(tmp_path / "tidewatch.yml")
    cfg.prometheus.rule_files = prom_rules or []
    cfg.sections["logs"] = {"ruler": ruler}
    return cfg


def test_ruler_section_and_loki_directory_layout(tmp_path: Path) -> None:
    (tmp_path / "log-rules").mkdir()
    (tmp_path / "log-rules" / "a.yml").write_text("groups: []\n")
    loki_dir = tmp_path / "loki-rules"
    (loki_dir / "fake").mkdir(parents=True)
    (loki_dir / "fake" / "tenant.yaml").write_text("groups: []\n")
    (loki_dir / "top.yml").write_text("groups: []\n")
    (loki_dir / "notes.txt").write_text("not a rule file")
    ruler = ruler_config(
        _cfg(
            tmp_path,
            {
                "rule_files": ["log-rules/*.yml"],
                "storage": {"type": "local", "local": {"directory": "loki-rules"}},
                "evaluation_interval": "30s",
                "rule_path": "/tmp/scratch",  # Loki's, ignored
                "enable_api": True,
            },
        )
    )
    assert ruler.evaluation_interval_ms == 30_000
    files = log_rule_files(ruler, str(tmp_path))
    assert [Path(f).relative_to(tmp_path).as_posix() for f in files] == [
        "log-rules/a.yml",
        "loki-rules/fake/tenant.yaml",
        "loki-rules/top.yml",
    ]
    assert ruler_config(Config()) == LogRulerConfig()


@pytest.mark.parametrize(
    ("ruler", "message"),
    [
        ({"rule_file": ["x"]}, "unknown field rule_file"),
        ({"rule_files": "x.yml"}, "must be a list"),
        ({"storage": {"type": "s3"}}, "only local rule storage"),
        ({"storage": {"type": "local"}}, "storage.local.directory"),
        ({"evaluation_interval": "soon"}, "evaluation_interval"),
        (["x"], "must be a mapping"),
    ],
)
def test_bad_ruler_section(tmp_path: Path, ruler: Any, message: str) -> None:
    with pytest.raises(RuleFileError) as info:
        ruler_config(_cfg(tmp_path, ruler))
    assert message in str(info.value) and "logs.ruler" in str(info.value)


# --------------------------------------------------------------------- querying


def test_logql_query_func_vector_scalar_and_errors() -> None:
    store = _store_with_errors(5, T0)
    query = logql_query_func(store)
    got = query('sum by (level)(count_over_time({job="app"} |= "error" [1m]))', T0)
    assert got == [(lbls(level="error"), 5.0)]
    assert query("vector(2) * 3", T0) == [((), 6.0)]
    # The window is (t - 1m, t]: lines 30 s old fall out a minute later.
    assert query('count_over_time({job="app"} |= "error" [1m])', T0 + 60_000) == []
    with pytest.raises(QueryError) as info:
        query('sum(count_over_time({job="app"} |= [1m]))', T0)
    assert "parse error" in info.value.message


def _log_group(store: Any, ts: UnitTestStorage) -> Group:
    (gdef,) = parse_rule_text(LOG_RULES, "logs.yml", language=LOGQL)
    return Group(
        gdef,
        storage=ts,
        query=logql_query_func(store),
        interval_ms=60_000,
        query_offset_ms=0,
        options=GroupOptions(external_labels={"site": "x"}),
        log_failures=False,
        send=_discard,
    )


async def _discard(expr: str, alerts: list[Any]) -> None:
    return None


def test_group_records_and_alerts_from_logs() -> None:
    ts = UnitTestStorage()
    store = _store_with_errors(5, T0)
    group = _log_group(store, ts)
    group.eval(T0)
    assert series(ts, "level:app_lines:count1m") == {
        lbls(__name__="level:app_lines:count1m", level="error"): [(T0, 5.0)],
        lbls(__name__="level:app_lines:count1m", level="info"): [(T0, 1.0)],
    }
    rule = group.rules[1]
    assert isinstance(rule, AlertingRule) and rule.health == "ok"
    (alert,) = rule.active.values()
    assert alert.state == AlertState.PENDING
    assert dict(alert.annotations) == {"summary": "error: 5 error lines"}
    assert dict(alert.labels) == {"alertname": "ManyErrors", "level": "error", "severity": "page"}
    # `for: 2m` holds it pending, then it fires while the error lines keep coming.
    for k in (1, 2):
        t = T0 + k * 60_000
        for i in range(4):
            store.push(
                from_dict({"job": "app", "level": "error"}), (t - 10_000 + i) * 10**6, "error"
            )
        due = group.eval(t)
    assert alert.state == AlertState.FIRING and alert.value == 4.0
    assert due and due[0][1][0] is alert
    alerts_series = series(ts, "ALERTS")
    assert alerts_series[
        lbls(
            __name__="ALERTS",
            alertname="ManyErrors",
            alertstate="firing",
            level="error",
            severity="page",
        )
    ] == [(T0 + 120_000, 1.0)]
    # keep_firing_for: 1m keeps it firing one evaluation after the errors stop.
    group.eval(T0 + 180_000)
    assert alert.state == AlertState.FIRING
    group.eval(T0 + 240_000)
    assert alert.state == AlertState.INACTIVE and alert.resolved_at_ms == T0 + 240_000


def test_failed_log_query_marks_the_rule_unhealthy() -> None:
    ts = UnitTestStorage()
    (gdef,) = parse_rule_text(
        "groups:\n  - name: g\n    rules:\n      - record: r\n"
        "        expr: 'sum(sum_over_time({job=\"app\"} | logfmt | unwrap x [1m]))'\n",
        "logs.yml",
        language=LOGQL,
    )
    store = MemoryLogStore()
    store.push(from_dict({"job": "app"}), (T0 - 1000) * 10**6, "x=abc")
    group = Group(
        gdef,
        storage=ts,
        query=logql_query_func(store),
        interval_ms=60_000,
        query_offset_ms=0,
        options=GroupOptions(external_labels={}),
        log_failures=False,
    )
    group.eval(T0)
    assert group.rules[0].health == "err" and "pipeline error" in group.rules[0].last_error
    assert group.failures == 1


# --------------------------------------------------------------------- manager and API


class _Services:
    def __init__(self, manager: RuleManager) -> None:
        self.rule_manager = manager


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def _wait_for(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


FAST_LOG_RULES = """
groups:
  - name: fast-logs
    interval: 100ms
    rules:
      - record: app:error_lines:count
        expr: sum(count_over_time({job="app"} |= "error" [1h]))
      - alert: AppErrors
        expr: sum by (level)(count_over_time({job="app"} |= "error" [1h])) > 3
        annotations:
          summary: "{{ $value }} errors at level {{ $labels.level }}"
"""


async def test_manager_runs_log_rules_next_to_promql(tmp_path: Path) -> None:
    (tmp_path / "prom.yml").write_text(
        "groups:\n  - name: prom\n    interval: 100ms\n    rules:\n"
        "      - record: answer\n        expr: vector(42)\n"
    )
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.yml").write_text(FAST_LOG_RULES)
    cfg = _cfg(tmp_path, {"rule_files": ["logs/*.yml"]}, prom_rules=["prom.yml"])
    received: list[NotifyAlert] = []

    async def local(alerts: list[NotifyAlert]) -> None:
        received.extend(alerts)

    now = int(time.time() * 1000)
    logs = _store_with_errors(6, now)
    ts = UnitTestStorage()
    manager = RuleManager(
        ts, Engine(), notify=local, restore=False, log_query=logql_query_func(logs)
    )
    await manager.apply_config(cfg)
    app = web.Application()
    app.add_routes(RulesAPI(_Services(manager)).routes())  # type: ignore[arg-type]
    app.add_routes(LokiRulesAPI(_Services(manager)).routes())
    runner, base = await _serve(app)
    try:
        await _wait_for(
            lambda: received and all(g.evaluations >= 1 for g in manager.groups.values())
        )
        (first,) = received[:1]
        assert dict(first.labels) == {"alertname": "AppErrors", "level": "error"}
        assert dict(first.annotations) == {"summary": "6 errors at level error"}
        assert first.generator_url.startswith("/explore?ds=loki&expr=sum+by+%28level%29")
        assert [v for _, v in series(ts, "app:error_lines:count").popitem()[1]][-1] == 6.0
        async with aiohttp.ClientSession() as http:
            async with http.get(base + "/api/v1/rules") as resp:
                every = (await resp.json())["data"]["groups"]
            async with http.get(base + "/prometheus/api/v1/rules") as resp:
                only_logs = (await resp.json())["data"]["groups"]
            async with http.get(base + "/prometheus/api/v1/alerts") as resp:
                log_alerts = (await resp.json())["data"]["alerts"]
            async with http.get(base + "/loki/api/v1/rules") as resp:
                assert resp.status == 200
                listing = yaml.safe_load(await resp.text())
            async with http.get(base + "/loki/api/v1/rules/app.yml/fast-logs") as resp:
                one = yaml.safe_load(await resp.text())
            async with http.get(base + "/loki/api/v1/rules/nope.yml") as resp:
                assert resp.status == 404
        assert [g["name"] for g in every] == ["prom", "fast-logs"]
        (g,) = only_logs
        assert g["name"] == "fast-logs" and g["interval"] == 0.1
        rec, alert = g["rules"]
        assert rec["query"] == 'sum(count_over_time({job="app"} |= "error" [1h]))'
        assert rec["health"] == "ok" and alert["state"] == "firing"
        assert [a["labels"]["alertname"] for a in log_alerts] == ["AppErrors"]
        assert list(listing) == ["app.yml"]
        assert listing["app.yml"][0]["rules"][1]["alert"] == "AppErrors"
        assert one["name"] == "fast-logs" and one["interval"] == "100ms"

        # A bad LogQL expression refuses the reload with file and position.
        (tmp_path / "logs" / "app.yml").write_text(
            "groups:\n  - name: x\n    rules:\n      - record: y\n"
            "        expr: 'sum(rate({job=\"app\"} |~ [5m]))'\n"
        )
        with pytest.raises(RuleFileError) as info:
            await manager.apply_config(cfg)
        msg = str(info.value)
        assert "app.yml: 5:15:" in msg and "parse error at line 1, col" in msg
        assert [g.name for g in manager.ordered_groups(LOGQL)] == ["fast-logs"]
    finally:
        await manager.stop()
        await runner.cleanup()


async def test_log_rules_need_a_log_store(tmp_path: Path) -> None:
    (tmp_path / "app.yml").write_text(FAST_LOG_RULES)
    manager = RuleManager(UnitTestStorage(), Engine(), restore=False)
    with pytest.raises(RuleFileError, match="log rules need the log store"):
        await manager.apply_config(_cfg(tmp_path, {"rule_files": ["app.yml"]}))


async def test_a_file_is_promql_or_logql_not_both(tmp_path: Path) -> None:
    (tmp_path / "app.yml").write_text("groups: []\n")
    manager = RuleManager(
        UnitTestStorage(), Engine(), restore=False, log_query=logql_query_func(MemoryLogStore())
    )
    cfg = _cfg(tmp_path, {"rule_files": ["app.yml"]}, prom_rules=["app.yml"])
    with pytest.raises(RuleFileError, match="either PromQL or LogQL"):
        await manager.apply_config(cfg)


# --------------------------------------------------------------------- check rules


def test_check_rules_detects_logql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tidewatch.cli.main import main

    logs = tmp_path / "logs.yml"
    logs.write_text(LOG_RULES)
    prom = tmp_path / "prom.yml"
    prom.write_text("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(up)\n")
    assert main(["check", "rules", str(logs), str(prom)]) == 0
    out = capsys.readouterr().out
    assert "  SUCCESS: 2 rules found (LogQL)\n" in out
    assert "  SUCCESS: 1 rules found\n" in out
    assert main(["check", "rules", "--logql", str(logs)]) == 0
    assert "  SUCCESS: 2 rules found\n" in capsys.readouterr().out
    # Forced PromQL: the LogQL file fails.
    assert main(["check", "rules", "--promql", str(logs)]) == 1
    assert "could not parse expression" in capsys.readouterr().err

    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n"
        "        expr: 'sum(count_over_time({job=\"app\"} |= [1m])) > 1'\n"
        '      - alert: B\n        expr: \'{job="app"} |= "x"\'\n'
    )
    # Detected as LogQL by its pipeline syntax, so LogQL's errors are shown.
    assert main(["check", "rules", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "parse error at line 1, col 36: syntax error: unexpected RANGE" in err
    assert main(["check", "rules", "--logql", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f'{bad}: 5:15: group "g", rule 1, "A": could not parse expression: parse error' in err
    assert f'{bad}: 7:15: group "g", rule 2, "B":' in err and "metric query" in err
