"""tidewatch.yml: its own sections, the prometheus section inline or by path, the
reserved sections, command-line overrides and the built-in default."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.config import (
    ConfigError,
    apply_flag_overrides,
    apply_retention_flag,
    default_config,
    load_config,
    load_config_text,
)

from .conftest import config_error

PROM = """\
global:
  scrape_interval: 15s
rule_files: ['rules/*.yml']
scrape_configs:
  - job_name: api
    file_sd_configs:
      - files: ['targets/services.json']
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'go_.*'
        action: drop
"""

TIDEWATCH = """\
server:
  listen: "0.0.0.0:9091"
  external_url: "https://tw.example.com/"
  query_timeout: 1m
  query_max_samples: 1000
  lookback_delta: 3m
  max_request_bytes: 16MiB
storage:
  path: tsdb-data
  retention_time: 30d
  retention_size: 50GB
  wal_sync_interval: 2s
  out_of_order_time_window: 10m
alertmanager: {route: {receiver: team}}
logs: {retention: 720h}
dashboards: {path: dashboards/}
auth: {users: []}
rules: {evaluation_interval: 30s}
"""


def test_inline_prometheus_section(tmp_path: Path) -> None:
    indented = "".join(f"  {line}\n" for line in PROM.splitlines())
    path = tmp_path / "tidewatch.yml"
    path.write_text(TIDEWATCH + "prometheus:\n" + indented)
    cfg = load_config(str(path))
    assert cfg.server.listen == "0.0.0.0:9091"
    assert cfg.server.external_url == "https://tw.example.com/"
    assert cfg.server.query_timeout_ms == 60_000
    assert cfg.server.query_max_samples == 1000
    assert cfg.server.lookback_delta_ms == 180_000
    assert cfg.server.max_request_bytes == 16 << 20
    assert cfg.storage.path == str(tmp_path / "tsdb-data")
    assert cfg.storage.retention_time_ms == 30 * 86_400_000
    assert cfg.storage.retention_size_bytes == 50 << 30
    assert cfg.storage.wal_sync_interval_ms == 2000
    assert cfg.storage.out_of_order_time_window_ms == 600_000
    (job,) = cfg.prometheus.scrape_configs
    # Relative paths in the inline section are relative to tidewatch.yml.
    assert job.file_sd_configs[0].files == [str(tmp_path / "targets" / "services.json")]
    assert cfg.prometheus.rule_files == [str(tmp_path / "rules" / "*.yml")]
    assert cfg.sections == {
        "alertmanager": {"route": {"receiver": "team"}},
        "logs": {"retention": "720h"},
        "dashboards": {"path": "dashboards/"},
        "auth": {"users": []},
        "rules": {"evaluation_interval": "30s"},
    }
    assert cfg.source_path == str(path)


def test_prometheus_section_by_path(tmp_path: Path) -> None:
    (tmp_path / "prom").mkdir()
    (tmp_path / "prom" / "prometheus.yml").write_text(PROM)
    path = tmp_path / "tidewatch.yml"
    path.write_text("storage: {path: data}\nprometheus: prom/prometheus.yml\n")
    cfg = load_config(str(path))
    (job,) = cfg.prometheus.scrape_configs
    assert job.job_name == "api"
    # Paths inside prometheus.yml are relative to prometheus.yml, as in Prometheus.
    assert job.file_sd_configs[0].files == [str(tmp_path / "prom" / "targets" / "services.json")]
    assert cfg.storage.retention_time_ms == 15 * 86_400_000


def test_error_in_prometheus_file_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "prometheus.yml").write_text(PROM + "    sample_limit: lots\n")
    (tmp_path / "tidewatch.yml").write_text("prometheus: prometheus.yml\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path / "tidewatch.yml"))
    err = info.value
    assert err.file == str(tmp_path / "prometheus.yml")
    assert (err.line, err.field) == (12, "scrape_configs[0].sample_limit")


def test_missing_prometheus_file(tmp_path: Path) -> None:
    (tmp_path / "tidewatch.yml").write_text("server: {}\nprometheus: nowhere.yml\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path / "tidewatch.yml"))
    assert (info.value.line, info.value.field) == (2, "prometheus")
    assert "cannot read" in info.value.message


def test_bare_prometheus_yml_is_detected() -> None:
    cfg = load_config_text(PROM, "prometheus.yml")
    assert cfg.prometheus.scrape_configs[0].job_name == "api"
    assert cfg.server.listen == "127.0.0.1:9090"
    assert cfg.storage.path == "data"


def test_prometheus_storage_section_is_detected_and_applied() -> None:
    cfg = load_config_text("storage:\n  tsdb:\n    out_of_order_time_window: 30m\n")
    assert cfg.storage.out_of_order_time_window_ms == 1_800_000
    assert cfg.prometheus.storage == {"tsdb": {"out_of_order_time_window": "30m"}}


def test_tidewatch_storage_section_is_detected() -> None:
    cfg = load_config_text("storage:\n  retention_time: 20d\n", "tidewatch.yml")
    assert cfg.storage.retention_time_ms == 20 * 86_400_000


def test_unknown_section_is_an_error() -> None:
    err = config_error("server: {}\nmetrics: {}\n", "tidewatch.yml")
    assert (err.line, err.field) == (2, "metrics")
    assert 'unknown field "metrics"' in err.message


def test_prometheus_key_at_top_of_tidewatch_yml_gets_a_hint() -> None:
    err = config_error("server: {}\nscrape_configs: []\n", "tidewatch.yml")
    assert (err.line, err.field) == (2, "scrape_configs")
    assert 'go under "prometheus:"' in err.message


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("server:\n  listen: 9090\n", 2, "server.listen", "needs a port"),
        ("server:\n  listen: 'a:b'\n", 2, "server.listen", "invalid port"),
        ("server:\n  query_timeout: 2 minutes\n", 2, "server.query_timeout", "duration"),
        ("server:\n  external_url: tw.local\n", 2, "server.external_url", "http://"),
        ("storage:\n  retention_size: 50 GB\n", 2, "storage.retention_size", "unknown unit"),
        ("storage:\n  paths: x\n", 2, "storage.paths", 'did you mean "path"'),
    ],
)
def test_tidewatch_section_errors(text: str, line: int, field: str, message: str) -> None:
    err = config_error(text, "tidewatch.yml")
    assert (err.line, err.field) == (line, field), str(err)
    assert message in err.message


def test_retention_defaults_follow_prometheus() -> None:
    assert load_config_text("storage: {path: d}\n").storage.retention_time_ms == 15 * 86_400_000
    only_size = load_config_text("storage: {retention_size: 1GB}\n").storage
    assert (only_size.retention_time_ms, only_size.retention_size_bytes) == (0, 1 << 30)
    both_zero = load_config_text("storage: {retention_time: 0}\n").storage
    assert both_zero.retention_time_ms == 15 * 86_400_000


def test_flag_overrides_from_plan_002() -> None:
    cfg = load_config_text(PROM)
    apply_flag_overrides(
        cfg,
        {
            "storage.tsdb.retention.time": "30d",
            "storage.tsdb.retention.size": "50GB",
            "storage.tsdb.path": "/prometheus",
            "web.listen-address": "127.0.0.1:9999",
            "query.max-samples": "123",
            "query.timeout": None,  # unset flags are skipped
        },
    )
    assert cfg.storage.retention_time_ms == 30 * 86_400_000
    assert cfg.storage.retention_size_bytes == 50 << 30
    assert cfg.storage.path == "/prometheus"
    assert cfg.server.listen == "127.0.0.1:9999"
    assert cfg.server.query_max_samples == 123
    assert cfg.server.query_timeout_ms == 120_000


def test_bad_flag_names_the_flag() -> None:
    cfg = load_config_text(PROM)
    with pytest.raises(ConfigError) as info:
        apply_flag_overrides(cfg, {"storage.tsdb.retention.time": "30 days"})
    assert str(info.value).startswith("<command line>: --storage.tsdb.retention.time: ")
    with pytest.raises(ConfigError):
        apply_flag_overrides(cfg, {"storage.tsdb.nope": "1"})


def test_retention_size_flag_alone_drops_time_default() -> None:
    cfg = load_config_text(PROM)
    apply_retention_flag(cfg, size="10GB")
    assert (cfg.storage.retention_time_ms, cfg.storage.retention_size_bytes) == (0, 10 << 30)


def test_default_config() -> None:
    cfg = default_config("0.0.0.0:9090")
    assert cfg.server.listen == "0.0.0.0:9090"
    assert cfg.storage.path == "data"
    assert cfg.storage.retention_time_ms == 15 * 86_400_000
    jobs = {sc.job_name: sc for sc in cfg.prometheus.scrape_configs}
    assert set(jobs) == {"tidewatch", "node"}
    assert jobs["tidewatch"].metrics_path == "/metrics"
    assert jobs["node"].metrics_path == "/collectors/node/metrics"
    for sc in jobs.values():
        assert sc.scrape_interval_ms == 15_000
        assert sc.scrape_timeout_ms == 10_000
        assert sc.static_configs[0].targets == ["localhost:9090"]
    assert default_config("127.0.0.1:9191").prometheus.scrape_configs[0].static_configs[
        0
    ].targets == ["127.0.0.1:9191"]


def test_near_miss_of_a_prometheus_key_is_suggested() -> None:
    err = config_error("scrape_config:\n  - job_name: a\n")
    assert (err.line, err.field) == (1, "scrape_config")
    assert 'did you mean "scrape_configs"' in err.message


def test_relative_config_path_resolves_to_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paths come out absolute, so a consumer joining them with any base leaves them alone."""
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "prometheus.yml").write_text(PROM)
    monkeypatch.chdir(tmp_path)
    cfg = load_config("conf/prometheus.yml")
    files = cfg.prometheus.scrape_configs[0].file_sd_configs[0].files
    assert files == [str(tmp_path / "conf" / "targets" / "services.json")]
    assert cfg.source_path == "conf/prometheus.yml"


def test_prometheus_storage_retention_size_alone() -> None:
    cfg = load_config_text("storage:\n  tsdb:\n    retention:\n      size: 2GB\n")
    assert (cfg.storage.retention_time_ms, cfg.storage.retention_size_bytes) == (0, 2 << 30)
