"""Alertmanager API v2 over real HTTP: alerts (filters, states, validation),
groups, silences, status and receivers, in Alertmanager's JSON shapes."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.alertmanager.api.server import api_server
from tidewatch.alertmanager.service import Alertmanager


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


NOW = dt.datetime.now(dt.UTC)
ALERTS = [
    {"labels": {"alertname": "Disk", "team": "db", "instance": "h1"}, "annotations": {"s": "1"}},
    {"labels": {"alertname": "Disk", "team": "db", "instance": "h2"}},
    {"labels": {"alertname": "Load", "severity": "critical"}, "generatorURL": "http://p/g"},
    {"labels": {"alertname": "Load", "severity": "warning"}},
    {
        "labels": {"alertname": "Old"},
        "startsAt": _iso(NOW - dt.timedelta(hours=2)),
        "endsAt": _iso(NOW - dt.timedelta(hours=1)),
    },
]


@pytest.fixture
async def api() -> AsyncIterator[tuple[str, Alertmanager, aiohttp.ClientSession]]:
    async with api_server() as (base, am), aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/v2/alerts", json=ALERTS) as r:
            assert r.status == 200, await r.text()
        yield base, am, http


async def _get(http: aiohttp.ClientSession, url: str, **params: Any) -> Any:
    async with http.get(url, params=params) as r:
        assert r.status == 200, await r.text()
        assert r.content_type == "application/json"
        return await r.json()


async def test_get_alerts_shape_and_states(
    api: tuple[str, Alertmanager, aiohttp.ClientSession],
) -> None:
    base, _, http = api
    alerts = await _get(http, f"{base}/api/v2/alerts")
    names = sorted(
        (a["labels"]["alertname"], a["labels"].get("instance", a["labels"].get("severity")))
        for a in alerts
    )
    assert names == [("Disk", "h1"), ("Disk", "h2"), ("Load", "critical"), ("Load", "warning")]
    assert [a["fingerprint"] for a in alerts] == sorted(a["fingerprint"] for a in alerts)
    disk = next(a for a in alerts if a["labels"].get("instance") == "h1")
    assert set(disk) == {
        "annotations",
        "endsAt",
        "fingerprint",
        "receivers",
        "startsAt",
        "status",
        "updatedAt",
        "labels",
    }  # generatorURL is omitted when empty, as Alertmanager does
    assert disk["receivers"] == [{"name": "db"}]
    assert disk["annotations"] == {"s": "1"}
    assert disk["status"] == {"inhibitedBy": [], "silencedBy": [], "state": "active"}
    assert disk["startsAt"].endswith("Z") and disk["endsAt"] > disk["startsAt"]
    warn = next(a for a in alerts if a["labels"].get("severity") == "warning")
    crit = next(a for a in alerts if a["labels"].get("severity") == "critical")
    assert warn["status"]["state"] == "suppressed"
    assert warn["status"]["inhibitedBy"] == [crit["fingerprint"]]


async def test_alert_filters(api: tuple[str, Alertmanager, aiohttp.ClientSession]) -> None:
    base, _, http = api
    url = f"{base}/api/v2/alerts"
    got = await _get(http, url, filter='instance=~"h.*"')
    assert {a["labels"]["instance"] for a in got} == {"h1", "h2"}
    got = await _get(http, url, receiver="d.")
    assert {a["labels"]["alertname"] for a in got} == {"Disk"}
    got = await _get(http, url, inhibited="false")
    assert all(a["status"]["state"] == "active" for a in got) and len(got) == 3
    got = await _get(http, url, active="false")
    assert [a["labels"]["severity"] for a in got] == ["warning"]
    async with http.get(url, params={"filter": "a=~("}) as r:
        assert r.status == 400


async def test_alert_groups(api: tuple[str, Alertmanager, aiohttp.ClientSession]) -> None:
    base, _, http = api
    groups = await _get(http, f"{base}/api/v2/alerts/groups")
    summary = sorted(
        (g["receiver"]["name"], g["labels"]["alertname"], len(g["alerts"])) for g in groups
    )
    assert summary == [("db", "Disk", 2), ("default", "Load", 2)]
    groups = await _get(http, f"{base}/api/v2/alerts/groups", receiver="db")
    assert [g["receiver"]["name"] for g in groups] == ["db"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ([{"annotations": {"a": "b"}}], "labels in body is required"),
        ([{"labels": {"alertname": 3}}], "0.labels"),
        ([{"labels": {"alertname": "x"}, "startsAt": "yesterday"}], "startsAt"),
        ([{"labels": {"0bad": "x"}}], 'invalid name "0bad"'),
        (
            [
                {
                    "labels": {"a": "x"},
                    "startsAt": "2024-01-02T00:00:00Z",
                    "endsAt": "2024-01-01T00:00:00Z",
                }
            ],
            "start time must be before end time",
        ),
        ({"labels": {}}, "must be of type array"),
    ],
)
async def test_malformed_alerts_get_400_naming_the_field(body: Any, needle: str) -> None:
    async with (
        api_server() as (base, _),
        aiohttp.ClientSession() as http,
        http.post(f"{base}/api/v2/alerts", json=body) as r,
    ):
        assert r.status == 400
        assert needle in await r.json()


async def test_silence_lifecycle_mutes_alerts(
    api: tuple[str, Alertmanager, aiohttp.ClientSession],
) -> None:
    base, _, http = api
    silence = {
        "matchers": [{"name": "instance", "value": "h1", "isRegex": False, "isEqual": True}],
        "startsAt": _iso(NOW),
        "endsAt": _iso(NOW + dt.timedelta(hours=1)),
        "createdBy": "me",
        "comment": "maintenance",
    }
    async with http.post(f"{base}/api/v2/silences", json=silence) as r:
        assert r.status == 200, await r.text()
        sid = (await r.json())["silenceID"]
    got = await _get(http, f"{base}/api/v2/silence/{sid}")
    assert got["id"] == sid and got["status"] == {"state": "active"}
    assert got["matchers"] == [
        {"name": "instance", "value": "h1", "isRegex": False, "isEqual": True}
    ]
    assert got["createdBy"] == "me" and got["comment"] == "maintenance"
    alerts = await _get(http, f"{base}/api/v2/alerts", filter="instance=h1")
    assert alerts[0]["status"] == {"inhibitedBy": [], "silencedBy": [sid], "state": "suppressed"}
    assert await _get(http, f"{base}/api/v2/alerts", filter="instance=h1", silenced="false") == []
    listed = await _get(http, f"{base}/api/v2/silences", filter="instance=h1")
    assert [s["id"] for s in listed] == [sid]
    assert await _get(http, f"{base}/api/v2/silences", filter="instance=h2") == []
    async with http.delete(f"{base}/api/v2/silence/{sid}") as r:
        assert r.status == 200
    got = await _get(http, f"{base}/api/v2/silence/{sid}")
    assert got["status"]["state"] == "expired"
    alerts = await _get(http, f"{base}/api/v2/alerts", filter="instance=h1")
    assert alerts[0]["status"]["state"] == "active"


async def test_silence_errors(api: tuple[str, Alertmanager, aiohttp.ClientSession]) -> None:
    base, _, http = api
    missing = "00000000-0000-0000-0000-000000000000"
    async with http.get(f"{base}/api/v2/silence/{missing}") as r:
        assert r.status == 404
    async with http.delete(f"{base}/api/v2/silence/{missing}") as r:
        assert r.status == 404
    async with http.get(f"{base}/api/v2/silence/not-a-uuid") as r:
        assert r.status == 422
    past = {
        "matchers": [{"name": "a", "value": "b", "isRegex": False}],
        "startsAt": _iso(NOW - dt.timedelta(hours=2)),
        "endsAt": _iso(NOW - dt.timedelta(hours=1)),
        "createdBy": "me",
        "comment": "c",
    }
    async with http.post(f"{base}/api/v2/silences", json=past) as r:
        assert r.status == 400
        assert "end time can't be in the past" in await r.json()
    empty = {
        **past,
        "endsAt": _iso(NOW + dt.timedelta(hours=1)),
        "matchers": [{"name": "a", "value": ".*", "isRegex": True}],
    }
    async with http.post(f"{base}/api/v2/silences", json=empty) as r:
        assert r.status == 400
        assert "must not match the empty string" in await r.json()
    unknown = {**empty, "id": missing, "matchers": [{"name": "a", "value": "b", "isRegex": False}]}
    async with http.post(f"{base}/api/v2/silences", json=unknown) as r:
        assert r.status == 404


async def test_status_and_receivers(api: tuple[str, Alertmanager, aiohttp.ClientSession]) -> None:
    base, _, http = api
    status = await _get(http, f"{base}/api/v2/status")
    assert status["cluster"] == {"peers": [], "status": "disabled"}
    assert "versionInfo" in status and status["versionInfo"]["version"]
    assert "secret-token" not in status["config"]["original"]
    assert "<secret>" in status["config"]["original"]
    assert status["uptime"].startswith("2023-11-14T22:13:20")
    assert await _get(http, f"{base}/api/v2/receivers") == [{"name": "default"}, {"name": "db"}]
