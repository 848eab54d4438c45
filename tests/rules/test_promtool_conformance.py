"""Every test file EXPECTED.md lists gives exactly the outcome it states."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from tidewatch.rules.unittest import RunOptions, run_unit_tests

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "promtool"

# (file, --run patterns, ignore unknown fields, expected exit code, key message or "")
CASES = [
    ("unittest.yml", None, False, 0, ""),
    ("long-period.yml", None, False, 0, ""),
    ("no-test-group-interval.yml", None, False, 0, ""),
    ("start-time-test.yml", None, False, 0, ""),
    ("at-modifier-test.yml", None, False, 0, ""),
    ("negative-offset-test.yml", None, False, 0, ""),
    ("rules_run_extrafields.yml", None, True, 0, ""),
    (
        "rules_run_extrafields.yml",
        None,
        False,
        1,
        "line 7: field namespace not found in type rulefmt.RuleGroup",
    ),
    ("rules_run.yml", None, False, 1, 'expr: "test", time: 0s,'),
    ("rules_run.yml", ["correct"], False, 0, ""),
    ("rules_run.yml", ["wrong"], False, 1, 'got: {__name__="test"} 0E+00'),
    ("rules_run_fuzzy.yml", ["correct"], False, 0, ""),
    ("rules_run_fuzzy.yml", ["wrong"], False, 1, "2.9999999999999987E+00"),
    ("rules_run_no_fuzzy.yml", None, False, 1, "2.9999999999999996E+00"),
    ("failing.yml", None, False, 1, "alertname: InstanceDown, time: 5m"),
    ("bad-input-series.yml", None, False, 1, "parse error"),
    ("bad-promql.yml", None, False, 1, "many-to-many matching not allowed"),
    ("bad-rules-syntax-test.yml", None, False, 1, "could not parse expression"),
    ("bad-rules-error-test.yml", None, False, 1, "rule: joined, time: 0s, err:"),
]


def run(name: str, patterns: list[str] | None, ignore: bool) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    options = RunOptions(run=patterns, ignore_unknown_fields=ignore)
    code = run_unit_tests([str(DATA / name)], options, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_expected_md_is_covered() -> None:
    listed = {
        line.split("|")[1].strip()
        for line in (DATA / "EXPECTED.md").read_text().splitlines()
        if line.startswith("| ") and line.split("|")[1].strip().endswith(".yml")
    }
    assert listed == {c[0] for c in CASES}


@pytest.mark.parametrize(("name", "patterns", "ignore", "code", "message"), CASES)
def test_expected_outcome(
    name: str, patterns: list[str] | None, ignore: bool, code: int, message: str
) -> None:
    got, out, err = run(name, patterns, ignore)
    assert got == code, err
    assert out.startswith(f"Unit Testing:  {DATA / name}\n")
    if code == 0:
        assert "  SUCCESS" in out and not err
    else:
        assert err.startswith("  FAILED:\n")
        assert message in err


def test_failing_alert_message_layout() -> None:
    _, _, err = run("failing.yml", None, False)
    assert (
        "    name: Failing test,\n"
        "    alertname: Test, time: 0s, \n"
        "        exp:[\n"
        "            0:\n"
        '              Labels:{alertname="Test"}\n'
        "              Annotations:{}\n"
        "            ], \n"
        "        got:[]"
    ) in err
    assert (
        'Labels:{alertname="InstanceDown", job="test", severity="page"}\n'
        '              Annotations:{description=" of job test has been down for more than'
        ' 5 minutes.", summary="Instance  down"}'
    ) in err


def test_rule_file_error_names_file_and_position() -> None:
    _, _, err = run("bad-rules-syntax-test.yml", None, False)
    assert (
        'bad-rules-syntax.yml: 7:15: group "bad-syntax", rule 1, "x": could not parse '
        "expression: 1:7: parse error: unexpected end of input"
    ) in err


PROMTOOL = shutil.which("promtool")
# Files whose outcome is the same with promtool 2.42 (the others use fields or
# defaults added after 2.42: native histograms in tests, fuzzy_compare,
# start_timestamp, the 1m default group interval, unknown-field skipping).
SAME_IN_242 = [
    "long-period.yml",
    "at-modifier-test.yml",
    "failing.yml",
    "bad-promql.yml",
    "bad-rules-syntax-test.yml",
    "bad-rules-error-test.yml",
    "rules_run.yml",
    "bad-input-series.yml",
]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
@pytest.mark.parametrize("name", SAME_IN_242)
def test_exit_code_matches_real_promtool(name: str) -> None:
    assert PROMTOOL is not None
    real = subprocess.run(
        [PROMTOOL, "test", "rules", name], cwd=DATA, capture_output=True, timeout=120
    )
    ours, _, _ = run(name, None, False)
    assert ours == real.returncode
