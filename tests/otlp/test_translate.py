"""Translation details: promotion options, scope metadata, target_info, exemplars."""

from __future__ import annotations

from typing import Any

import pytest

from tidewatch.labels import to_dict
from tidewatch.otlp import proto
from tidewatch.otlp.options import InvalidOTLPConfig, options_from_section
from tidewatch.otlp.translate import Translated, translate

T = 1_700_000_000_000  # ms


def _kv(msg: Any, **attrs: str) -> None:
    for k, v in attrs.items():
        msg.add(key=k.replace("__", "."), value={"string_value": v})


def _request(points_ms: tuple[int, ...] = (T,)) -> Any:
    req = proto.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    _kv(rm.resource.attributes, service__name="api", host__name="h1", cloud__region="eu")
    sm = rm.scope_metrics.add(schema_url="https://x/1.0")
    sm.scope.name = "lib"
    sm.scope.version = "2.1"
    _kv(sm.scope.attributes, lang="go")
    g = sm.metrics.add(name="temp", unit="Cel")
    for t in points_ms:
        dp = g.gauge.data_points.add(time_unix_nano=t * 1_000_000, as_double=20.0)
        _kv(dp.attributes, room="a", host__name="from-point")
    h = sm.metrics.add(name="rpc.duration", unit="ms")
    h.histogram.aggregation_temporality = proto.TEMPORALITY_CUMULATIVE
    hp = h.histogram.data_points.add(
        time_unix_nano=T * 1_000_000,
        count=4,
        sum=30.0,
        bucket_counts=[1, 2, 1],
        explicit_bounds=[5.0, 10.0],
    )
    hp.exemplars.add(time_unix_nano=T * 1_000_000, as_double=7.0, trace_id=b"\x01" * 16)
    hp.exemplars.add(time_unix_nano=T * 1_000_000, as_double=99.0, span_id=b"\x02" * 8)
    return req


def _series(out: Translated, name: str) -> list[dict[str, str]]:
    return [to_dict(lb) for lb in out.labels if to_dict(lb)["__name__"] == name]


def test_defaults_promote_nothing() -> None:
    out = translate(_request())
    (temp,) = _series(out, "temp_celsius")
    assert temp == {
        "__name__": "temp_celsius",
        "job": "api",
        "room": "a",
        "host_name": "from-point",
    }
    (info,) = _series(out, "target_info")
    assert info == {
        "__name__": "target_info",
        "job": "api",
        "host_name": "h1",
        "cloud_region": "eu",
    }


def test_promotion_scope_and_identifying() -> None:
    opts = options_from_section(
        {
            "promote_resource_attributes": ["host.name", "cloud.region"],
            "promote_scope_metadata": True,
            "keep_identifying_resource_attributes": True,
        }
    )
    out = translate(_request(), opts)
    (temp,) = _series(out, "temp_celsius")
    # Point attributes win over promoted resource attributes.
    assert temp["host_name"] == "from-point" and temp["cloud_region"] == "eu"
    assert temp["otel_scope_name"] == "lib" and temp["otel_scope_version"] == "2.1"
    assert temp["otel_scope_lang"] == "go" and temp["otel_scope_schema_url"] == "https://x/1.0"
    (info,) = _series(out, "target_info")
    assert info["service_name"] == "api"
    assert "otel_scope_name" not in info


def test_promote_all_with_ignore_and_without_suffixes() -> None:
    opts = options_from_section(
        {
            "promote_all_resource_attributes": True,
            "ignore_resource_attributes": ["cloud.region"],
            "translation_strategy": "UnderscoreEscapingWithoutSuffixes",
        }
    )
    out = translate(_request(), opts)
    (temp,) = _series(out, "temp")
    assert "cloud_region" not in temp and temp["service_name"] == "api"
    assert _series(out, "rpc_duration_bucket")


def test_target_info_spans_the_resource_time_range() -> None:
    opts = options_from_section({}, lookback_ms=60_000)
    out = translate(_request((T - 100_000, T)), opts)
    times = [
        t
        for lb, t in zip(out.labels, out.ts, strict=True)
        if to_dict(lb)["__name__"] == "target_info"
    ]
    assert times == [T - 100_000, T - 70_000, T - 40_000, T - 10_000, T]


def test_histogram_buckets_and_exemplars() -> None:
    out = translate(_request())
    got = {
        to_dict(lb).get("le", to_dict(lb)["__name__"]): v
        for lb, v in zip(out.labels, out.values, strict=True)
        if to_dict(lb)["__name__"].startswith("rpc_duration_milliseconds")
    }
    assert got == {
        "5": 1.0,
        "10": 3.0,
        "+Inf": 4.0,
        "rpc_duration_milliseconds_sum": 30.0,
        "rpc_duration_milliseconds_count": 4.0,
    }
    placed = {to_dict(lb)["le"]: ex for lb, ex in out.exemplars}
    assert placed["10"].value == 7.0
    assert dict(placed["10"].labels) == {"trace_id": "01" * 16}
    assert placed["+Inf"].value == 99.0 and dict(placed["+Inf"].labels) == {"span_id": "02" * 8}


@pytest.mark.parametrize(
    "raw",
    [
        {"promote_resource_attributes": "host.name"},
        {"promote_resource_attributes": ["a", "a"]},
        {"promote_all_resource_attributes": True, "promote_resource_attributes": ["a"]},
        {"ignore_resource_attributes": ["a"]},
        {"translation_strategy": "NoTranslation"},
        {"promote_scope_metadata": "yes"},
    ],
)
def test_bad_options(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidOTLPConfig):
        options_from_section(raw)


def test_api_reads_options_from_config(tmp_path: Any) -> None:
    from tests.web.conftest import FakeServices
    from tidewatch.tsdb import TSDB
    from tidewatch.web.api_otlp import OTLPAPI

    db = TSDB.open(str(tmp_path / "data"))
    try:
        services = FakeServices(tsdb=db)
        api = OTLPAPI(services)  # type: ignore[arg-type]
        assert api.options().promote == frozenset()
        services.config.prometheus.other_sections["otlp"] = {
            "promote_resource_attributes": ["host.name"]
        }
        services.config = type(services.config)(prometheus=services.config.prometheus)
        assert api.options().promote == frozenset({"host.name"})
        assert api.options().lookback_ms == services.config.server.lookback_delta_ms
    finally:
        db.close()


def test_label_cache_keeps_resources_apart() -> None:
    from tidewatch.otlp.translate import LabelCache

    cache = LabelCache(max_entries=1)  # cleared on almost every use
    first = translate(_request(), None, cache)
    again = translate(_request(), None, cache)
    assert first.labels == again.labels
    other = _request()
    other.resource_metrics[0].resource.attributes[0].value.string_value = "worker"
    for _ in range(3):
        (temp,) = _series(translate(other, None, cache), "temp_celsius")
        assert temp["job"] == "worker"
        (temp,) = _series(translate(_request(), None, cache), "temp_celsius")
        assert temp["job"] == "api"
