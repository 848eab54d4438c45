"""Rule file parsing and validation with Prometheus's messages; `check rules`."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from tidewatch.cli.cmd_rules import check_rules
from tidewatch.rules.rulefile import (
    RuleFileError,
    duplicate_rules,
    expand_rule_files,
    parse_rule_text,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "promtool"


def errors_of(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as info:
        parse_rule_text(text, "f.yml")
    return info.value.errors


def test_good_file_fields() -> None:
    (g,) = parse_rule_text(
        """
groups:
  - name: g
    interval: 30s
    query_offset: 1m
    limit: 10
    labels: {team: a}
    rules:
      - alert: A
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} down"}
      - record: job:up:sum
        expr: sum by (job) (up)
""",
        "f.yml",
    )
    assert (g.name, g.interval_ms, g.query_offset_ms, g.limit) == ("g", 30_000, 60_000, 10)
    alert, rec = g.rules
    assert (alert.for_ms, alert.keep_firing_for_ms, alert.labels) == (
        300_000,
        60_000,
        {"severity": "page"},
    )
    assert rec.record == "job:up:sum" and not rec.is_alert


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("record: x\n        for: 5m", "invalid field 'for' in recording rule"),
        ("record: x\n        alert: y", "only one of 'record' and 'alert' must be set"),
        ("labels: {a: b}", "one of 'record' or 'alert' must be set"),
        ("record: 'bad name'", "invalid recording rule name: bad name"),
        ("alert: A\n        labels: {'0bad': x}", "invalid label name: 0bad"),
        ("alert: A\n        labels: {__name__: x}", "invalid label name: __name__"),
        ("alert: A\n        annotations: {'a-b': x}", "invalid annotation name: a-b"),
        ("record: x\n        annotations: {a: b}", "invalid field 'annotations' in recording rule"),
    ],
)
def test_rule_validation_messages(rule: str, message: str) -> None:
    text = f"groups:\n  - name: g\n    rules:\n      - expr: up\n        {rule}\n"
    (err,) = errors_of(text)
    assert err.startswith("f.yml: ")
    assert 'group "g", rule 1' in err
    assert err.endswith(message)


def test_bad_promql_has_position() -> None:
    (err,) = errors_of("groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(\n")
    assert err.startswith('f.yml: 5:15: group "g", rule 1, "x": could not parse expression: 1:5:')


def test_bad_template_and_several_errors_reported() -> None:
    errs = errors_of(
        """groups:
  - name: g
    rules:
      - alert: A
        expr: up
        annotations:
          s: "{{ $nope }}"
  - name: g
    rules:
      - record: x
        expr: up
"""
    )
    assert any(
        'annotation "s": template: __alert_A:1: undefined variable "$nope"' in e for e in errs
    )
    assert any('groupname: "g" is repeated in the same file' in e for e in errs)


def test_unknown_fields_and_bad_duration() -> None:
    (err,) = errors_of("groups:\n  - name: g\n    owner: x\n    rules: []\n")
    assert err == (
        "f.yml: yaml: unmarshal errors:\n  line 3: field owner not found in type rulefmt.RuleGroup"
    )
    groups = parse_rule_text(
        "groups:\n  - name: g\n    owner: x\n    rules: []\n", "f.yml", ignore_unknown_fields=True
    )
    assert groups[0].name == "g"
    errs = errors_of("groups:\n  - name: g\n    rules:\n      - {alert: a, expr: up, for: 5x}\n")
    assert errs[0] == 'f.yml: yaml: unmarshal errors:\n  line 4: not a valid duration string: "5x"'


def test_empty_group_name_and_yaml_syntax() -> None:
    (err,) = errors_of("groups:\n  - name: ''\n    rules: []\n")
    assert "Groupname must not be empty" in err
    (err,) = errors_of("groups: [\n")
    assert err.startswith("f.yml: yaml: ")


def test_duplicates_and_globs(tmp_path: Path) -> None:
    groups = parse_rule_text(
        "groups:\n  - name: a\n    rules:\n      - {record: x, expr: up}\n      - {record: x, expr: up}\n"
        "  - name: b\n    rules:\n      - {record: x, expr: up}\n      - {record: y, expr: up}\n",
        "f.yml",
    )
    assert duplicate_rules(groups) == [("x", {})]
    (tmp_path / "b.yml").write_text("")
    (tmp_path / "a.yml").write_text("")
    assert expand_rule_files(["*.yml", "a.yml"], str(tmp_path)) == [
        str(tmp_path / "a.yml"),
        str(tmp_path / "b.yml"),
    ]


def _check(files: list[str], **kw: object) -> int:
    ns = argparse.Namespace(
        files=files, lint="duplicate-rules", lint_fatal=False, ignore_unknown_fields=False
    )
    for k, v in kw.items():
        setattr(ns, k, v)
    return check_rules(ns)


def test_check_rules_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert _check([str(DATA / "rules.yml")]) == 0
    assert "  SUCCESS: 5 rules found" in capsys.readouterr().out
    assert _check([str(DATA / "rules_duplicates.yml")]) == 0
    err = capsys.readouterr().err
    assert "lint error 1 duplicate rule(s) found.\nMetric: job:test:count_over_time1m" in err
    assert _check([str(DATA / "rules_duplicates.yml")], lint_fatal=True) == 3
    capsys.readouterr()
    assert _check([str(DATA / "rules-bad.yml")]) == 1
    assert (
        'annotation "summary": template: __alert_InstanceDown:1: undefined variable "$label"'
        in (capsys.readouterr().err)
    )


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
@pytest.mark.parametrize(
    "name",
    [
        "rules.yml",
        "rules-bad.yml",
        "rules_duplicates.yml",
        "bad-rules-syntax.yml",
        "rules_extrafields.yml",
    ],
)
def test_check_rules_exit_code_matches_promtool(name: str) -> None:
    assert PROMTOOL is not None
    real = subprocess.run([PROMTOOL, "check", "rules", name], cwd=DATA, capture_output=True)
    assert _check([str(DATA / name)]) == real.returncode


def test_rules_data_pages_groups() -> None:
    from tidewatch.rules.apijson import rules_data
    from tidewatch.rules.group import Group, GroupOptions
    from tidewatch.rules.teststore import UnitTestStorage

    text = "groups:\n" + "".join(
        f"  - name: g{i}\n    rules:\n      - {{record: r{i}, expr: '1'}}\n" for i in range(3)
    )
    store = UnitTestStorage()
    groups = [
        Group(
            d,
            storage=store,
            query=lambda e, t: [],
            interval_ms=60_000,
            query_offset_ms=0,
            options=GroupOptions(external_labels={}),
        )
        for d in parse_rule_text(text, "f.yml")
    ]
    page1 = rules_data(groups, group_limit=2)
    assert [g["name"] for g in page1["groups"]] == ["g0", "g1"]
    page2 = rules_data(groups, group_limit=2, next_token=page1["groupNextToken"])
    assert [g["name"] for g in page2["groups"]] == ["g2"] and "groupNextToken" not in page2
    with pytest.raises(ValueError):
        rules_data(groups, group_limit=2, next_token="nope")
    only = rules_data(groups, rule_names={"r1"})
    assert [g["name"] for g in only["groups"]] == ["g1"]
    assert only["groups"][0]["rules"][0] == {
        "name": "r1",
        "query": "1",
        "health": "unknown",
        "evaluationTime": 0.0,
        "lastEvaluation": "0001-01-01T00:00:00Z",
        "type": "recording",
    }
