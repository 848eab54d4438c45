"""prometheus.yml fields: defaults, inheritance from global, auth and TLS, discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.config import Config, ConfigError, load_config, load_config_text
from tidewatch.config.prometheus import DEFAULT_SCRAPE_PROTOCOLS

from .conftest import config_error

FULL = """\
global:
  scrape_interval: 20s
  scrape_timeout: 5s
  evaluation_interval: 30s
  external_labels: {region: eu, replica: $TW_TEST_REPLICA, literal: $$x}
  sample_limit: 5000
  label_limit: 30
  body_size_limit: 10MB
rule_files: [alerts.yml, 'rules/*.yaml']
scrape_configs:
  - job_name: inherit
    static_configs: [{targets: ['a:1']}]
  - job_name: own
    scrape_interval: 1m
    metrics_path: /probe
    scheme: https
    params: {module: [http_2xx], target: [example.com]}
    honor_labels: true
    honor_timestamps: false
    sample_limit: 10
    body_size_limit: 1KB
    label_name_length_limit: 100
    label_value_length_limit: 200
    target_limit: 7
    enable_compression: false
    bearer_token_file: secrets/token
    tls_config:
      ca_file: certs/ca.pem
      cert_file: certs/client.pem
      key_file: certs/client.key
      server_name: metrics.internal
      insecure_skip_verify: false
      min_version: TLS12
    http_sd_configs:
      - url: https://sd.internal/targets
        refresh_interval: 2m
        authorization: {credentials: abc}
    file_sd_configs:
      - files: ['sd/*.json', /abs/sd.yml]
        refresh_interval: 1m
    relabel_configs:
      - source_labels: [__address__]
        target_label: instance
        regex: '([^:]+):.*'
        replacement: $1
"""


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("TW_TEST_REPLICA", "r1")
    path = tmp_path / "prometheus.yml"
    path.write_text(FULL)
    return load_config(str(path))


def test_global(cfg: Config, tmp_path: Path) -> None:
    g = cfg.prometheus.global_
    assert (g.scrape_interval_ms, g.scrape_timeout_ms, g.evaluation_interval_ms) == (
        20_000,
        5_000,
        30_000,
    )
    # $VAR expands from the environment and $$ is a literal $, as in Prometheus.
    assert g.external_labels == {"region": "eu", "replica": "r1", "literal": "$x"}
    assert cfg.prometheus.rule_files == [
        str(tmp_path / "alerts.yml"),
        str(tmp_path / "rules" / "*.yaml"),
    ]


def test_job_inherits_global(cfg: Config) -> None:
    sc = cfg.prometheus.scrape_configs[0]
    assert (sc.scrape_interval_ms, sc.scrape_timeout_ms) == (20_000, 5_000)
    assert (sc.sample_limit, sc.label_limit, sc.body_size_limit) == (5000, 30, 10 << 20)
    assert (sc.metrics_path, sc.scheme, sc.honor_labels, sc.honor_timestamps) == (
        "/metrics",
        "http",
        False,
        True,
    )
    assert sc.scrape_protocols == DEFAULT_SCRAPE_PROTOCOLS
    assert sc.http.authorization is None and sc.http.basic_auth is None


def test_job_own_values(cfg: Config, tmp_path: Path) -> None:
    sc = cfg.prometheus.scrape_configs[1]
    assert (sc.scrape_interval_ms, sc.scrape_timeout_ms) == (60_000, 5_000)
    assert (sc.metrics_path, sc.scheme) == ("/probe", "https")
    assert sc.params == {"module": ["http_2xx"], "target": ["example.com"]}
    assert (sc.honor_labels, sc.honor_timestamps, sc.enable_compression) == (True, False, False)
    assert (sc.sample_limit, sc.body_size_limit, sc.target_limit) == (10, 1024, 7)
    assert (sc.label_limit, sc.label_name_length_limit, sc.label_value_length_limit) == (
        30,
        100,
        200,
    )
    auth = sc.http.authorization
    assert auth is not None
    assert (auth.type, auth.credentials, auth.credentials_file) == (
        "Bearer",
        None,
        str(tmp_path / "secrets" / "token"),
    )
    tls = sc.http.tls_config
    assert tls.ca_file == str(tmp_path / "certs" / "ca.pem")
    assert (tls.server_name, tls.min_version) == ("metrics.internal", "TLS12")
    (hsd,) = sc.http_sd_configs
    assert (hsd.url, hsd.refresh_interval_ms) == ("https://sd.internal/targets", 120_000)
    assert hsd.http.authorization is not None
    assert hsd.http.authorization.credentials is not None
    assert hsd.http.authorization.credentials.value == "abc"
    (fsd,) = sc.file_sd_configs
    assert fsd.files == [str(tmp_path / "sd" / "*.json"), "/abs/sd.yml"]
    assert fsd.refresh_interval_ms == 60_000
    (rule,) = sc.relabel_configs
    assert (rule.action, rule.target_label, rule.regex, rule.separator) == (
        "replace",
        "instance",
        "([^:]+):.*",
        ";",
    )


def test_job_timeout_defaults_to_min_of_global_and_interval() -> None:
    text = "global: {scrape_timeout: 10s}\nscrape_configs: [{job_name: a, scrape_interval: 4s}]\n"
    (sc,) = load_config_text(text).prometheus.scrape_configs
    assert sc.scrape_timeout_ms == 4_000


def test_bearer_token_becomes_authorization() -> None:
    (sc,) = load_config_text(
        "scrape_configs: [{job_name: a, bearer_token: tok}]"
    ).prometheus.scrape_configs
    assert sc.http.authorization is not None
    assert sc.http.authorization.credentials is not None
    assert sc.http.authorization.credentials.value == "tok"
    assert repr(sc.http.authorization.credentials) == "<secret>"


def test_anchors_and_merge_keys() -> None:
    jobs = load_config_text(
        "scrape_configs:\n"
        "  - &base {job_name: a, scrape_interval: 30s, metrics_path: /m}\n"
        "  - <<: *base\n    job_name: b\n    metrics_path: /other\n"
    ).prometheus.scrape_configs
    assert [(j.job_name, j.scrape_interval_ms, j.metrics_path) for j in jobs] == [
        ("a", 30_000, "/m"),
        ("b", 30_000, "/other"),
    ]


def test_scrape_config_files(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "one.yml").write_text("scrape_configs: [{job_name: extra}]\n")
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 7s}\nscrape_config_files: [jobs/*.yml]\n"
        "scrape_configs: [{job_name: main}]\n"
    )
    cfg = load_config(str(tmp_path / "prometheus.yml"))
    assert [(s.job_name, s.scrape_interval_ms) for s in cfg.prometheus.scrape_configs] == [
        ("main", 7_000),
        ("extra", 7_000),
    ]
    (tmp_path / "jobs" / "two.yml").write_text("scrape_configs:\n  - job_name: main\n")
    err = config_error_at(tmp_path / "prometheus.yml")
    assert err.file == str(tmp_path / "jobs" / "two.yml")
    assert (err.line, err.field) == (2, "scrape_configs[0].job_name")
    assert "first found in main config file" in err.message


def config_error_at(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    return info.value


def test_alerting_and_remote_sections_kept() -> None:
    cfg = load_config_text(
        "alerting:\n  alertmanagers: [{static_configs: [{targets: ['am:9093']}]}]\n"
        "remote_write: [{url: 'http://rw/api/v1/write'}]\n"
    )
    assert cfg.prometheus.alerting == {
        "alertmanagers": [{"static_configs": [{"targets": ["am:9093"]}]}]
    }
    assert cfg.prometheus.remote_write == [{"url": "http://rw/api/v1/write"}]
    err = config_error("alerting:\n  alert_relabel_configs:\n    - action: bogus\n")
    assert (err.line, err.field) == (3, "alerting.alert_relabel_configs[0].action")


def test_utf8_validation_scheme_allows_utf8_label_names() -> None:
    text = "scrape_configs: [{job_name: a, static_configs: [{targets: [a:1], labels: {'service.name': x}}]}]"
    config_error(text)
    ok = load_config_text("global: {metric_name_validation_scheme: utf8}\n" + text)
    assert ok.prometheus.scrape_configs[0].static_configs[0].labels == {"service.name": "x"}
