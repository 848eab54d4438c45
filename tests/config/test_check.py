"""`check config`: promtool-style output and exit codes, run as a real process too; and
the same verdicts as the real promtool on the same files, where it is installed."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tidewatch.config import check_config_files

from .conftest import PROMTOOL_DATA, REPO

GOOD = "global: {scrape_interval: 15s}\nscrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['a:1']}]\n"


def test_check_good_and_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yml"
    bad.write_text(GOOD + "    scrape_timeout: 1m\n")
    out = io.StringIO()
    assert check_config_files([str(good)], out) == 0
    assert "SUCCESS" in out.getvalue()
    out = io.StringIO()
    assert check_config_files([str(good), str(bad)], out) == 1
    assert f"FAILED: {bad}:5: scrape_configs[0].scrape_timeout: scrape timeout greater" in (
        out.getvalue()
    )


def test_check_looks_into_referenced_files(tmp_path: Path) -> None:
    (tmp_path / "sd.json").write_text('[{"targets": ["a:1"], "labels": {"1x": "y"}}]')
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "rule_files: [rules/*.yml]\nscrape_configs:\n  - job_name: a\n"
        "    file_sd_configs: [{files: [sd.json, missing/*.json]}]\n"
        "    tls_config: {cert_file: c.pem, key_file: k.pem}\n"
    )
    out = io.StringIO()
    assert check_config_files([str(cfg)], out) == 1
    text = out.getvalue()
    assert 'WARNING: no rule files match "' in text
    assert "missing/*.json" in text and "does not exist" in text
    assert f'checking SD file "{tmp_path / "sd.json"}"' in text
    assert "error checking client cert file" in text


def _run_module(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "tidewatch.config", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_module_entry_point_exit_codes(tmp_path: Path) -> None:
    good = PROMTOOL_DATA / "prometheus-config.good.yml"
    assert _run_module(str(good)).returncode == 0
    bad = tmp_path / "prometheus.yml"
    bad.write_text("global:\n  scrape_interval: 15\n")
    result = _run_module(str(bad))
    assert result.returncode == 1
    assert f'{bad}:2: global.scrape_interval: not a valid duration string: "15"' in result.stdout


# Configs on which tidewatch and Prometheus must agree (tidewatch's deliberate
# differences — YAML 1.1 booleans as names, non-http schemes — are left out).
VERDICTS = [
    (GOOD, True),
    (
        GOOD
        + "    metric_relabel_configs: [{source_labels: [__name__], regex: 'go_.*', action: drop}]\n",
        True,
    ),
    (GOOD + "    relabel_configs: [{action: KEEP, source_labels: [x]}]\n", True),
    (GOOD + "    relabel_configs: [{target_label: '${1}_x', source_labels: [x]}]\n", True),
    (GOOD + "    body_size_limit: 1GB512MB\n    sample_limit: 100\n", True),
    (GOOD + "    basic_auth: {username: u, password: p}\n", True),
    (GOOD + "    params: {module: [http_2xx]}\n", True),
    ("", True),
    (GOOD + "    scrape_interval: 5s\n    scrape_timeout: 6s\n", False),
    (GOOD + "  - job_name: a\n", False),
    (GOOD + "    foo: 1\n", False),
    (GOOD + "    relabel_configs: [{action: nope}]\n", False),
    (GOOD + "    relabel_configs: [{action: replace, source_labels: [x]}]\n", False),
    (GOOD + "    relabel_configs: [{regex: 'a(b', target_label: x}]\n", False),
    (GOOD + "    relabel_configs: [{action: hashmod, target_label: x}]\n", False),
    (GOOD + "    relabel_configs: [{action: labeldrop, source_labels: [a]}]\n", False),
    (GOOD + "    honor_labels: 'yes'\n", False),
    (GOOD + "    body_size_limit: 512\n", False),
    (GOOD + "    basic_auth: {password: p, password_file: f}\n", False),
    (GOOD + "    bearer_token: t\n    basic_auth: {username: u}\n", False),
    (GOOD + "    file_sd_configs: [{files: [x.txt]}]\n", False),
    ("global:\n  scrape_interval: 15\n", False),
    ("global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n", False),
]


@pytest.mark.parametrize(("text", "ok"), VERDICTS)
def test_same_verdict_as_promtool(tmp_path: Path, text: str, ok: bool) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    ours = check_config_files([str(path)], io.StringIO()) == 0
    assert ours == ok
    promtool = shutil.which("promtool")
    if promtool is None:
        return
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(path)],
        capture_output=True,
        timeout=60,
    )
    assert (result.returncode == 0) == ok, result.stderr
