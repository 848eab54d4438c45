"""promtool test-rules features beyond the shared files: series notation, group
order, external labels/URL in templates, template functions, failure output."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from tidewatch.rules.histnotation import canonical, parse_histogram_values
from tidewatch.rules.unittest import RunOptions, run_unit_tests

TESTDATA = Path(__file__).resolve().parent / "testdata"
PROMTOOL = shutil.which("promtool")


def run_here(name: str, monkeypatch: pytest.MonkeyPatch, **kw: object) -> tuple[int, str, str]:
    monkeypatch.chdir(TESTDATA)
    out, err = io.StringIO(), io.StringIO()
    code = run_unit_tests([name], RunOptions(**kw), out=out, err=err)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_features_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run_here("features-test.yml", monkeypatch)
    assert (code, err) == (0, ""), err
    assert out == "Unit Testing:  features-test.yml\n  SUCCESS\n\n"


def test_failure_output(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_here("features-fail-test.yml", monkeypatch)
    assert code == 1
    assert 'got: {__name__="base:sum", job="api"} 7E+00' in err
    assert (
        'exp: {__name__="base:sum", job="api"} 8E+00, {__name__="base:sum", job="web"} 1.25E-04'
        in err
    )
    assert 'got: {job="api"} +Inf' in err


def test_run_selects_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_here("features-fail-test.yml", monkeypatch, run=["^nothing$"])
    assert (code, err) == (0, "")
    # The unnamed group fails alone; "wrong" only matches the named one.
    code, _, err = run_here("features-fail-test.yml", monkeypatch, run=["wrong"])
    assert code == 1 and "base:sum / 0" not in err


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
@pytest.mark.parametrize("name", ["features-test.yml", "features-fail-test.yml"])
def test_same_output_as_promtool(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert PROMTOOL is not None
    real = subprocess.run(
        [PROMTOOL, "test", "rules", name], cwd=TESTDATA, capture_output=True, text=True
    )
    code, out, err = run_here(name, monkeypatch)
    assert (code, out, err) == (real.returncode, real.stdout, real.stderr)


def test_histogram_notation() -> None:
    values = parse_histogram_values(
        "{{sum:3 count:2 buckets:[2]}}+{{sum:1.3 count:1 buckets:[1]}}x2 _ stale"
    )
    assert [str(v) for v in values[:3]] == [
        "{{count:2 sum:3 buckets:[2]}}",
        "{{count:3 sum:4.3 buckets:[3]}}",
        "{{count:4 sum:5.6 buckets:[4]}}",
    ]
    assert values[3:] == [None, "stale"]
    assert (
        canonical("{{buckets:[1 2] count:3 schema:1}}")
        == "{{schema:1 count:3 sum:0 buckets:[1 2]}}"
    )
