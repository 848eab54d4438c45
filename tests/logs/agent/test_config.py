"""Reading Promtail config files and tidewatch.yml's logs: section; errors name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.config.errors import ConfigError
from tidewatch.logs.agent.config import (
    decode_promtail,
    load_promtail_file,
    logs_section_from_file,
    logs_section_from_raw,
)

PROMTAIL = """\
server:
  http_listen_port: 9080
  grpc_listen_port: 0
positions:
  filename: positions.yaml
  sync_period: 5s
clients:
  - url: http://loki:3100/loki/api/v1/push
    tenant_id: team-a
    batchwait: 2s
    batchsize: 524288
    backoff_config: {min_period: 100ms, max_period: 10s, max_retries: 3}
    external_labels: {host: web-1}
    basic_auth: {username: u, password: p}
scrape_configs:
  - job_name: system
    static_configs:
      - targets: [localhost]
        labels:
          job: varlogs
          __path__: /var/log/*log
    pipeline_stages:
      - regex:
          expression: '^(?P<level>\\w+)'
      - labels:
          level:
"""


def test_promtail_file_as_is(tmp_path: Path) -> None:
    path = tmp_path / "promtail.yml"
    path.write_text(PROMTAIL)
    cfg = load_promtail_file(path)
    assert cfg.http_listen_port == 9080
    assert cfg.positions.filename == str(tmp_path / "positions.yaml")
    assert cfg.positions.sync_period_ms == 5000
    (client,) = cfg.clients
    assert client.url == "http://loki:3100/loki/api/v1/push"
    assert (client.tenant_id, client.batch_wait_ms, client.batch_size) == ("team-a", 2000, 524288)
    assert (client.min_backoff_ms, client.max_backoff_ms, client.max_retries) == (100, 10_000, 3)
    assert client.external_labels == {"host": "web-1"} and client.basic_auth == ("u", "p")
    (sc,) = cfg.scrape_configs
    assert sc.job_name == "system"
    assert sc.groups[0].labels == {"job": "varlogs", "__path__": "/var/log/*log"}
    assert len(sc.make_pipeline()) == 2


@pytest.mark.parametrize(
    ("replace", "by", "where"),
    [
        (
            "job_name: system",
            "job_nam: system",
            'promtail.yml:16: scrape_configs[0].job_nam: unknown field "job_nam" (did you mean "job_name"?)',
        ),
        ("sync_period: 5s", "sync_period: 5 seconds", "promtail.yml:6: positions.sync_period:"),
        (
            "- regex:",
            "- regexp:",
            "promtail.yml:23: scrape_configs[0].pipeline_stages[0].regexp: unknown field",
        ),
        (
            "'^(?P<level>\\w+)'",
            "'^(?P<level>\\w+'",
            "promtail.yml:24: scrape_configs[0].pipeline_stages[0].regex.expression: could not compile",
        ),
        (
            "url: http://loki",
            "url: loki",
            "promtail.yml:8: clients[0].url: unsupported protocol scheme",
        ),
        (
            "static_configs:",
            "kubernetes_sd_configs: []\n    static_configs:",
            "kubernetes_sd_configs is not supported",
        ),
        ("  filename: positions.yaml", "\tfilename: positions.yaml", "tabs cannot indent YAML"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, replace: str, by: str, where: str) -> None:
    assert replace in PROMTAIL
    path = tmp_path / "promtail.yml"
    path.write_text(PROMTAIL.replace(replace, by))
    with pytest.raises(ConfigError) as info:
        load_promtail_file(path)
    if where.startswith("promtail.yml:"):
        assert str(info.value).startswith(str(tmp_path / where))
    else:
        assert where in str(info.value)


def test_duplicate_job_names() -> None:
    text = """
scrape_configs:
  - job_name: a
    static_configs: [{labels: {__path__: /x}}]
  - job_name: a
    static_configs: [{labels: {__path__: /y}}]
"""
    with pytest.raises(
        ConfigError, match=r"p.yml:5: scrape_configs\[1\]: found multiple scrape configs"
    ):
        decode_promtail(text, "p.yml")


def test_logs_section_of_tidewatch_yml(tmp_path: Path) -> None:
    path = tmp_path / "tidewatch.yml"
    path.write_text(
        """server:
  listen_address: ":9090"
logs:
  retention: 7d          # the store's own key: not the agent's business
  positions:
    filename: data/positions.yaml
  scrape_configs:
    - job_name: app
      static_configs:
        - labels: {job: app, __path__: /srv/app/*.log}
      pipeline_stages:
        - json:
            expressions: {level: lvl}
        - labels: {level: ""}
        - timestamp: {source: t, format: Nope, location: Nowhere/City}
"""
    )
    with pytest.raises(ConfigError) as info:
        logs_section_from_file(path)
    assert str(info.value).startswith(
        f"{path}:15: logs.scrape_configs[0].pipeline_stages[2].timestamp.location:"
    )
    path.write_text(path.read_text().replace(", location: Nowhere/City", ""))
    cfg = logs_section_from_file(path)
    assert cfg.positions.filename == str(tmp_path / "data" / "positions.yaml")
    assert [s.job_name for s in cfg.scrape_configs] == ["app"]


def test_logs_section_from_raw_dict() -> None:
    raw = {
        "retention": "7d",
        "scrape_configs": [
            {"job_name": "app", "static_configs": [{"labels": {"__path__": "/x/*.log"}}]}
        ],
    }
    cfg = logs_section_from_raw(raw)
    assert cfg.scrape_configs[0].groups[0].labels == {"__path__": "/x/*.log"}
    assert logs_section_from_raw(None).scrape_configs == []
    with pytest.raises(ConfigError, match="job_name is required"):
        logs_section_from_raw({"scrape_configs": [{"static_configs": []}]})


def test_encodings() -> None:
    base = """
scrape_configs:
  - job_name: a
    encoding: {enc}
    static_configs: [{{labels: {{__path__: /x}}}}]
"""
    assert (
        decode_promtail(base.format(enc="ISO-8859-1"), "p.yml").scrape_configs[0].encoding
        == "ISO-8859-1"
    )
    with pytest.raises(
        ConfigError, match=r"p\.yml:4: scrape_configs\[0\]\.encoding: unknown encoding"
    ):
        decode_promtail(base.format(enc="klingon"), "p.yml")
    with pytest.raises(ConfigError, match="not ASCII-compatible"):
        decode_promtail(base.format(enc="UTF-16"), "p.yml")


async def test_latin1_file_is_decoded(tmp_path: Path) -> None:
    from tests.logs.agent.helpers import CollectSink, wait_for
    from tidewatch.logs.agent.runner import LogAgent

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_bytes("café\n".encode("latin-1"))
    cfg = decode_promtail(
        f"""
scrape_configs:
  - job_name: a
    encoding: ISO-8859-1
    static_configs: [{{labels: {{__path__: "{logs}/*.log"}}}}]
""",
        "p.yml",
    )
    sink = CollectSink()
    agent = LogAgent(cfg, sink)
    await agent.start()
    try:
        await wait_for(lambda: len(sink.entries) == 1)
    finally:
        await agent.stop()
    assert sink.lines() == ["café"]


def test_tidewatch_yml_without_logs_section(tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text("scrape_configs: []\n")
    cfg = logs_section_from_file(path)
    assert cfg.scrape_configs == [] and cfg.clients == []
