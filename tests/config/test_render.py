"""config_to_yaml: the effective config for /api/v1/status/config, secrets masked."""

from __future__ import annotations

import yaml

from tidewatch.config import config_to_yaml, default_config, load_config_text

SECRETS = """\
global:
  scrape_interval: 30s
  external_labels: {cluster: prod}
alerting:
  alertmanagers:
    - basic_auth: {username: am, password: am-hunter2}
      static_configs: [{targets: ['am:9093']}]
remote_write:
  - url: https://rw.example.com/api/v1/write
    authorization: {credentials: rw-hunter2}
scrape_configs:
  - job_name: basic
    basic_auth: {username: scraper, password: basic-hunter2}
    static_configs: [{targets: ['a:1']}]
  - job_name: bearer
    bearer_token: bearer-hunter2
    tls_config: {insecure_skip_verify: true}
    static_configs: [{targets: ['b:1']}]
  - job_name: authz
    authorization: {type: Token, credentials: authz-hunter2}
    http_sd_configs:
      - url: http://sd.example.com/targets
        basic_auth: {username: sd, password: sd-hunter2}
    relabel_configs:
      - action: labeldrop
        regex: tmp_.*
      - source_labels: [__address__]
        modulus: 4
        target_label: __tmp_hash
        action: hashmod
"""


def test_secrets_are_masked() -> None:
    out = config_to_yaml(load_config_text(SECRETS))
    assert "hunter2" not in out
    doc = yaml.safe_load(out)
    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    assert jobs["basic"]["basic_auth"] == {"username": "scraper", "password": "<secret>"}
    assert jobs["bearer"]["authorization"] == {"type": "Bearer", "credentials": "<secret>"}
    assert jobs["authz"]["authorization"] == {"type": "Token", "credentials": "<secret>"}
    assert jobs["authz"]["http_sd_configs"][0]["basic_auth"]["password"] == "<secret>"
    assert doc["alerting"]["alertmanagers"][0]["basic_auth"]["password"] == "<secret>"
    assert doc["remote_write"][0]["authorization"]["credentials"] == "<secret>"


def test_defaults_are_filled_in_prometheus_order() -> None:
    out = config_to_yaml(load_config_text(SECRETS))
    doc = yaml.safe_load(out)
    assert list(doc) == ["global", "alerting", "scrape_configs", "remote_write"]
    assert doc["global"] == {
        "scrape_interval": "30s",
        "scrape_timeout": "10s",
        "evaluation_interval": "1m",
        "external_labels": {"cluster": "prod"},
    }
    basic = doc["scrape_configs"][0]
    assert list(basic)[:4] == [
        "job_name",
        "honor_timestamps",
        "track_timestamps_staleness",
        "scrape_interval",
    ]
    assert basic["scrape_interval"] == "30s"
    assert basic["metrics_path"] == "/metrics"
    assert basic["scheme"] == "http"
    assert basic["static_configs"] == [{"targets": ["a:1"]}]


def test_round_trip_loads_the_same_config() -> None:
    first = load_config_text(SECRETS)
    again = load_config_text(config_to_yaml(first))
    assert again.prometheus.scrape_configs[2].relabel_configs == (
        first.prometheus.scrape_configs[2].relabel_configs
    )
    assert [s.job_name for s in again.prometheus.scrape_configs] == ["basic", "bearer", "authz"]
    assert config_to_yaml(again) == config_to_yaml(first)


def test_default_config_renders() -> None:
    doc = yaml.safe_load(config_to_yaml(default_config("127.0.0.1:9090")))
    assert [j["job_name"] for j in doc["scrape_configs"]] == ["tidewatch", "node"]
    assert doc["global"]["scrape_interval"] == "15s"


def test_yaml11_words_stay_strings() -> None:
    cfg = load_config_text("scrape_configs: [{job_name: 'no', static_configs: [{targets: [a:1]}]}]")
    assert yaml.safe_load(config_to_yaml(cfg))["scrape_configs"][0]["job_name"] == "no"
