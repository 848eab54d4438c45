"""prometheus_client's own Pushgateway functions against the endpoint (PUT, POST, DELETE)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)

Client = TestClient[Any, Any]


async def test_client_library_push_verbs(pgw: Client) -> None:
    gateway = f"http://127.0.0.1:{pgw.port}"
    reg = CollectorRegistry()
    Gauge("job_last_success_unixtime", "Last success.", registry=reg).set(1700000000)
    Counter("rows", "Rows processed.", ["table"], registry=reg).labels("users").inc(42)
    Histogram("step_seconds", "Step time.", buckets=(1, 5), registry=reg).observe(2)
    key = {"instance": "host/1"}  # a '/' makes the client use @base64
    await asyncio.to_thread(push_to_gateway, gateway, "nightly", reg, grouping_key=key)
    text = await (await pgw.get("/metrics/pushgateway")).text()
    assert 'job_last_success_unixtime{instance="host/1",job="nightly"} 1.7e+09' in text
    assert "# TYPE rows_total counter" in text  # text format 0.0.4 names it with _total
    assert 'rows_total{instance="host/1",job="nightly",table="users"} 42' in text
    assert 'step_seconds_bucket{instance="host/1",job="nightly",le="5"} 1' in text
    assert 'step_seconds_bucket{instance="host/1",job="nightly",le="+Inf"} 1' in text

    other = CollectorRegistry()
    Gauge("job_last_success_unixtime", "Last success.", registry=other).set(1800000000)
    await asyncio.to_thread(pushadd_to_gateway, gateway, "nightly", other, grouping_key=key)
    text = await (await pgw.get("/metrics/pushgateway")).text()
    assert 'job_last_success_unixtime{instance="host/1",job="nightly"} 1.8e+09' in text
    assert "rows_total{" in text  # POST kept the other families

    await asyncio.to_thread(delete_from_gateway, gateway, "nightly", grouping_key=key)
    assert await (await pgw.get("/metrics/pushgateway")).text() == ""
