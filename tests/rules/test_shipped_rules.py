"""The rule files shipped in ``tidewatch/rules/shipped``: valid for promtool and
tidewatch, and their key alerts fire as intended under both unit-test runners."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.peers import require_binary
from tidewatch.cli.main import main
from tidewatch.rules.shipped import shipped_rule_files
from tidewatch.rules.unittest import RunOptions, run_unit_tests

TESTDATA = Path(__file__).resolve().parent / "testdata" / "shipped"
SHIPPED = shipped_rule_files()
UNIT_TESTS = sorted(TESTDATA.glob("*-test.yml"))


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_expected_files_are_shipped() -> None:
    assert {p.name for p in SHIPPED} == {"host.yml", "services.yml", "tidewatch.yml"}
    # One unit-test file per shipped file.
    assert {p.name.removesuffix("-test.yml") for p in UNIT_TESTS} == {p.stem for p in SHIPPED}


@pytest.mark.parametrize("path", SHIPPED, ids=_ids(SHIPPED))
def test_every_alert_is_labelled_and_annotated(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_alert_names_are_unique() -> None:
    names = [
        rule["alert"]
        for path in SHIPPED
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("path", SHIPPED, ids=_ids(SHIPPED))
def test_promtool_check_rules(path: Path) -> None:
    promtool = require_binary("promtool")
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.parametrize("path", SHIPPED, ids=_ids(SHIPPED))
def test_tidewatch_check_rules(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "rules", "--lint-fatal", str(path)]) == 0
    assert "SUCCESS" in capsys.readouterr().out


def _tidewatch_unit_test(path: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_unit_tests([str(path)], RunOptions(), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("path", UNIT_TESTS, ids=_ids(UNIT_TESTS))
def test_unit_tests_pass_in_promtool(path: Path) -> None:
    promtool = require_binary("promtool")
    done = subprocess.run(
        [promtool, "test", "rules", path.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", UNIT_TESTS, ids=_ids(UNIT_TESTS))
def test_unit_tests_pass_in_tidewatch(path: Path) -> None:
    code, output = _tidewatch_unit_test(path)
    assert code == 0, output


def _broken_copy(tmp_path: Path) -> Path:
    """services-test.yml with one expected annotation wrong and the rule path made absolute."""
    source = TESTDATA / "services-test.yml"
    doc = yaml.safe_load(source.read_text())
    doc["rule_files"] = [str((source.parent / f).resolve()) for f in doc["rule_files"]]
    alert = doc["tests"][0]["alert_rule_test"][1]["exp_alerts"][0]
    alert["exp_annotations"]["summary"] = "api target a:80 is up"
    broken = tmp_path / "broken-test.yml"
    broken.write_text(yaml.safe_dump(doc))
    return broken


def test_wrong_expectation_fails_in_both(tmp_path: Path) -> None:
    # Guards the checks above: a wrong annotation must make both runners fail.
    broken = _broken_copy(tmp_path)
    code, output = _tidewatch_unit_test(broken)
    assert code == 1
    assert "TargetDown" in output
    promtool = require_binary("promtool")
    done = subprocess.run(
        [promtool, "test", "rules", str(broken)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
