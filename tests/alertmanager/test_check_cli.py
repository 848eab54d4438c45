"""``tidewatch check alertmanager``: good and bad files, exit codes as ``amtool check-config``."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from tests.peers import require_binary
from tidewatch.cli import cmd_check, cmd_check_alertmanager

GOOD = """\
global:
  resolve_timeout: 5m
route:
  receiver: team
  group_by: [alertname]
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname]
receivers:
  - name: team
    webhook_configs:
      - url: http://127.0.0.1:9/hook
  - name: pager
templates:
  - 'extra.tmpl'
"""

TEMPLATE = '{{ define "extra.title" }}[{{ .Status }}] {{ .CommonLabels.alertname }}{{ end }}\n'

UNKNOWN_FIELD = GOOD.replace(
    "  group_by: [alertname]\n", "  group_by: [alertname]\n  grup_wait: 1m\n"
)
BAD_MATCHER = GOOD.replace("['severity=\"critical\"']", "['severity=~\"(critical\"']")
BAD_TEMPLATE = '{{ define "extra.title" }}{{ .Status \n'


def _write(tmp_path: Path, config: str, template: str = TEMPLATE) -> Path:
    (tmp_path / "extra.tmpl").write_text(template)
    path = tmp_path / "alertmanager.yml"
    path.write_text(config)
    return path


def _run(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cmd_check.register(sub)
    cmd_check_alertmanager.register(sub)
    args = parser.parse_args(["check", "alertmanager", str(path)])
    code: int = args.func(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


CASES = {
    "good": (GOOD, TEMPLATE, 0),
    "unknown-field": (UNKNOWN_FIELD, TEMPLATE, 1),
    "bad-matcher": (BAD_MATCHER, TEMPLATE, 1),
    "bad-template": (GOOD, BAD_TEMPLATE, 1),
}


def test_good_config_prints_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(_write(tmp_path, GOOD), capsys)
    assert code == 0
    assert out.startswith(f"Checking '{tmp_path / 'alertmanager.yml'}'  SUCCESS\n")
    assert " - 1 inhibit rules\n - 2 receivers\n - 1 templates\n  SUCCESS\n" in out


def test_unknown_field_names_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(_write(tmp_path, UNKNOWN_FIELD), capsys)
    assert code == 1
    assert "FAILED" in out
    assert "alertmanager.yml:6" in out
    assert "grup_wait" in out


def test_bad_matcher_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(_write(tmp_path, BAD_MATCHER), capsys)
    assert code == 1
    assert "FAILED" in out
    assert "failed to validate 1 file(s)" in out


def test_bad_template_fails_after_config_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(_write(tmp_path, GOOD, BAD_TEMPLATE), capsys)
    assert code == 1
    assert "  SUCCESS\nFound:" in out
    assert out.rstrip().splitlines()[-1] == "error: failed to validate 1 file(s)"


@pytest.mark.parametrize("name", sorted(CASES))
def test_exit_code_matches_amtool(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    amtool = require_binary("amtool")
    config, template, expected = CASES[name]
    path = _write(tmp_path, config, template)
    real = subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, timeout=30
    )
    ours, _ = _run(path, capsys)
    assert (ours, real.returncode) == (expected, expected), real.stdout + real.stderr
