from __future__ import annotations

import pytest

from tidewatch.config.model import RelabelConfig as RC
from tidewatch.config.model import ScrapeConfig
from tidewatch.ingest.relabel import compile_relabel
from tidewatch.ingest.target import TargetError, populate


def test_defaults_instance_and_reserved_labels() -> None:
    cfg = ScrapeConfig(job_name="api", scrape_interval_ms=15_000, scrape_timeout_ms=5_000)
    t, disc = populate({"__address__": "localhost:9100", "__meta_x": "m", "env": "prod"}, cfg, [])
    assert t is not None
    assert dict(t.labels) == {"instance": "localhost:9100", "job": "api", "env": "prod"}
    assert disc["__scrape_interval__"] == "15s" and disc["__scrape_timeout__"] == "5s"
    assert disc["__scheme__"] == "http" and disc["__metrics_path__"] == "/metrics"
    assert t.url == "http://localhost:9100/metrics"
    assert (t.interval_ms, t.timeout_ms) == (15_000, 5_000)


def test_address_without_port_scheme_path_and_params() -> None:
    cfg = ScrapeConfig(
        job_name="j",
        scheme="https",
        metrics_path="/probe",
        params={"module": ["http_2xx"], "x": ["1", "2"]},
    )
    rules = compile_relabel(
        [
            RC(source_labels=["__address__"], target_label="__param_target"),
            RC(target_label="__address__", replacement="exporter"),
        ]
    )
    t, _ = populate({"__address__": "example.com"}, cfg, rules)
    assert t is not None
    assert t.url == "https://exporter/probe?module=http_2xx&x=1&x=2&target=example.com"
    assert dict(t.labels)["instance"] == "exporter"
    # __param_x overrides the first value of a configured param.
    t2, _ = populate({"__address__": "h", "__param_module": "tcp"}, cfg, [])
    assert t2 is not None and "module=tcp" in t2.url


def test_per_target_interval_and_errors() -> None:
    cfg = ScrapeConfig(job_name="j", scrape_interval_ms=60_000, scrape_timeout_ms=10_000)
    t, _ = populate(
        {"__address__": "h:1", "__scrape_interval__": "30s", "__scrape_timeout__": "3s"}, cfg, []
    )
    assert t is not None and (t.interval_ms, t.timeout_ms) == (30_000, 3_000)
    with pytest.raises(TargetError, match="greater than scrape interval"):
        populate({"__address__": "h:1", "__scrape_timeout__": "2m"}, cfg, [])
    with pytest.raises(TargetError, match="no address"):
        populate({"__address__": ""}, cfg, [])
    dropped, disc = populate(
        {"__address__": "h:1"},
        cfg,
        compile_relabel([RC(source_labels=["job"], regex="other", action="keep")]),
    )
    assert dropped is None and disc["job"] == "j"


def test_offset_is_stable_and_inside_interval() -> None:
    cfg = ScrapeConfig(job_name="j", scrape_interval_ms=10_000, scrape_timeout_ms=1_000)
    t, _ = populate({"__address__": "h:1"}, cfg, [])
    assert t is not None
    a = t.offset_s(0, now_s=1000.0)
    assert 0 <= a <= 10.0
    # The phase (now + offset) mod interval is fixed per target.
    assert (1000.0 + a) % 10 == pytest.approx((1003.5 + t.offset_s(0, now_s=1003.5)) % 10)
