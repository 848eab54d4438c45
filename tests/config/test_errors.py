"""Bad configs fail with the file, the line and the field of the mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.config import ConfigError, load_config, load_config_text

from .conftest import config_error

BASE = """\
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: api
    static_configs:
      - targets: ['localhost:8080']
"""

# (name, text appended to BASE's job or a whole document, line, field, message part)
CASES = [
    (
        "unknown field",
        BASE + "    scrape_intervall: 30s\n",
        7,
        "scrape_configs[0].scrape_intervall",
        'unknown field "scrape_intervall" (did you mean "scrape_interval"?)',
    ),
    (
        "wrong type bool for string",
        BASE + "  - job_name: no\n",
        7,
        "scrape_configs[1].job_name",
        "cannot unmarshal !!bool `no` into string",
    ),
    (
        "wrong type string for bool",
        BASE + "    honor_labels: 'yes'\n",
        7,
        "scrape_configs[0].honor_labels",
        "cannot unmarshal !!str `yes` into bool",
    ),
    (
        "wrong type map for list",
        BASE + "    relabel_configs: {action: drop}\n",
        7,
        "scrape_configs[0].relabel_configs",
        "cannot unmarshal !!map into a list",
    ),
    (
        "bad duration",
        "global:\n  scrape_interval: 15\n",
        2,
        "global.scrape_interval",
        'not a valid duration string: "15"',
    ),
    (
        "bad regex",
        BASE + "    metric_relabel_configs:\n      - source_labels: [__name__]\n"
        "        regex: 'go_(.*'\n        action: drop\n",
        9,
        "scrape_configs[0].metric_relabel_configs[0].regex",
        "error parsing regexp: missing ): `go_(.*`",
    ),
    (
        "duplicate job",
        BASE + "  - job_name: api\n",
        7,
        "scrape_configs[1].job_name",
        'found multiple scrape configs with job name "api"',
    ),
    (
        "timeout over interval",
        BASE + "    scrape_interval: 5s\n    scrape_timeout: 6s\n",
        8,
        "scrape_configs[0].scrape_timeout",
        'scrape timeout greater than scrape interval for scrape config with job name "api"',
    ),
    (
        "global timeout over interval",
        "global:\n  scrape_interval: 5s\n  scrape_timeout: 1m\n",
        3,
        "global.scrape_timeout",
        "global scrape timeout greater than scrape interval",
    ),
    (
        "unknown relabel action",
        BASE + "    relabel_configs:\n      - action: delete\n",
        8,
        "scrape_configs[0].relabel_configs[0].action",
        'unknown relabel action "delete"',
    ),
    (
        "replace without target_label",
        BASE + "    relabel_configs:\n      - source_labels: [a]\n        action: replace\n",
        9,
        "scrape_configs[0].relabel_configs[0].action",
        "relabel configuration for replace action requires 'target_label' value",
    ),
    (
        "invalid target label",
        BASE + "    relabel_configs:\n      - source_labels: [a]\n        target_label: 1x\n",
        9,
        "scrape_configs[0].relabel_configs[0].target_label",
        "\"1x\" is invalid 'target_label' for replace action",
    ),
    (
        "invalid static label name",
        BASE + "        labels: {'bad-name': x}\n",
        7,
        "scrape_configs[0].static_configs[0].labels.bad-name",
        '"bad-name" is not a valid label name',
    ),
    (
        "password and password_file",
        BASE + "    basic_auth:\n      username: u\n      password: p\n      password_file: f\n",
        10,
        "scrape_configs[0].basic_auth.password_file",
        "at most one of basic_auth password & password_file must be configured",
    ),
    (
        "bad size",
        BASE + "    body_size_limit: 10XB\n",
        7,
        "scrape_configs[0].body_size_limit",
        "units: unknown unit XB in 10XB",
    ),
    (
        "duplicate key",
        BASE + "    job_name: web\n",
        7,
        "scrape_configs[0].job_name",
        "duplicate key (first defined at line 4)",
    ),
    (
        "yaml syntax",
        BASE + "    static_configs: [\n",
        8,
        "",
        "yaml:",
    ),
    (
        "unsupported discovery",
        BASE + "    kubernetes_sd_configs: [{role: pod}]\n",
        7,
        "scrape_configs[0].kubernetes_sd_configs",
        "kubernetes_sd_configs is not supported by tidewatch",
    ),
    (
        "null scrape config",
        BASE + "  -\n",
        7,
        "scrape_configs[1]",
        "empty or null scrape config section",
    ),
    (
        "file_sd extension",
        BASE + "    file_sd_configs: [{files: [targets.txt]}]\n",
        7,
        "scrape_configs[0].file_sd_configs[0].files[0]",
        'path name "targets.txt" is not valid for file discovery',
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_error_names_file_line_field(text: str, line: int, field: str, message: str) -> None:
    err = config_error(text)
    assert (err.file, err.line, err.field) == ("prometheus.yml", line, field), str(err)
    assert message in err.message
    prefix = f"prometheus.yml:{line}: {field}: " if field else f"prometheus.yml:{line}: "
    assert str(err).startswith(prefix)


def test_error_format_matches_contract() -> None:
    err = config_error("global:\n  scrape_interval: 15\n")
    assert str(err) == 'prometheus.yml:2: global.scrape_interval: not a valid duration string: "15"'


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path / "nope.yml"))
    assert info.value.line == 0
    assert "cannot read config file" in str(info.value)


def test_error_in_inline_prometheus_section_is_prefixed() -> None:
    text = "server: {listen: '127.0.0.1:9090'}\nprometheus:\n  global:\n    scrape_interval: x\n"
    err = config_error(text, "tidewatch.yml")
    assert (err.file, err.line, err.field) == (
        "tidewatch.yml",
        4,
        "prometheus.global.scrape_interval",
    )


def test_yaml_11_booleans_quoted_are_fine() -> None:
    cfg = load_config_text(BASE + "  - job_name: 'no'\n    static_configs: [{targets: [a:1]}]\n")
    assert cfg.prometheus.scrape_configs[1].job_name == "no"


def test_numbers_are_accepted_for_strings() -> None:
    """As in Go's yaml: an unquoted number in a string field is its text."""
    cfg = load_config_text("global:\n  external_labels: {replica: 1}\n")
    assert cfg.prometheus.global_.external_labels == {"replica": "1"}
