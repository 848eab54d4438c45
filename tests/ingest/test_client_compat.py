"""Expositions written by the real prometheus_client library, in both formats."""

from __future__ import annotations

import prometheus_client as pc
from prometheus_client.openmetrics.exposition import generate_latest as om_generate_latest

from tidewatch.ingest.exposition import iter_samples, parse_exposition


def _registry() -> pc.CollectorRegistry:
    reg = pc.CollectorRegistry()
    c = pc.Counter("jobs", "Jobs done.", ["queue"], registry=reg)
    c.labels('we"ird\\q\nx').inc(3)
    pc.Histogram("lat_seconds", "Latency.", registry=reg, unit="seconds").observe(0.3)
    pc.Info("build", "Build info.", registry=reg).info({"version": "1.2"})
    pc.Gauge("temp", "Temperature.", registry=reg).set(float("-inf"))
    return reg


def test_prometheus_client_text_and_openmetrics_agree() -> None:
    reg = _registry()
    text = {(lb, v) for lb, _, v in iter_samples(pc.generate_latest(reg), False)}
    om = {(lb, v) for lb, _, v in iter_samples(om_generate_latest(reg), True)}
    names = {dict(lb)["__name__"] for lb, _ in om}
    assert {"jobs_total", "lat_seconds_bucket", "lat_seconds_count", "build_info", "temp"} <= names

    # Same samples except the _created series, whose values are creation times.
    def strip(
        s: set[tuple[tuple[tuple[str, str], ...], float]],
    ) -> set[tuple[tuple[tuple[str, str], ...], float]]:
        return {x for x in s if not dict(x[0])["__name__"].endswith("_created")}

    assert strip(text) == strip(om)
    (jobs,) = [dict(lb) for lb, _ in om if dict(lb)["__name__"] == "jobs_total"]
    assert jobs["queue"] == 'we"ird\\q\nx'
    meta = parse_exposition(om_generate_latest(reg), True).metadata
    assert meta["jobs"].type == "counter" and meta["build"].type == "info"
    assert meta["lat_seconds"].unit == "seconds"
