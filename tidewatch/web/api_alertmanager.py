"""Alertmanager's HTTP API v2 (``/api/v2/...``) with its exact JSON shapes, so
``amtool``, Prometheus and Grafana talk to tidewatch's Alertmanager unchanged.

Errors are what Alertmanager answers: a JSON string naming the problem with 400,
an empty 404 for unknown silences, 422 for a malformed silence id.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable
from functools import cmp_to_key
from typing import Any

import orjson
from aiohttp import web

from tidewatch.alertmanager.alert import Alert, AlertError, sort_alerts, validate, wall_clock_ms
from tidewatch.alertmanager.dispatch import AggregationGroup
from tidewatch.alertmanager.fingerprint import fingerprint_hex
from tidewatch.alertmanager.matchers import MatcherParseError, parse_matchers
from tidewatch.alertmanager.render import masked_yaml
from tidewatch.alertmanager.service import Alertmanager
from tidewatch.alertmanager.silence import (
    ACTIVE,
    EXPIRED,
    PENDING,
    Silence,
    SilenceError,
    SilenceNotFound,
    matchers_from_json,
    matchers_to_json,
)
from tidewatch.labels import Labels, from_dict
from tidewatch.matcher import Matcher, MatchType, RegexError, compile_anchored

VERSION_INFO = {
    "branch": "HEAD",
    "buildDate": "",
    "buildUser": "tidewatch",
    "goVersion": "python",
    "revision": "",
    "version": "0.25.0",
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class BadRequest(Exception):
    """Answered as 400 with the message as a JSON string (Alertmanager's payload)."""


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def _bad(message: str) -> web.Response:
    return _json(message, 400)


# --- times ------------------------------------------------------------------------


def format_time(ms: int) -> str:
    """strfmt.DateTime as Alertmanager prints it: UTC, milliseconds."""
    if ms == 0:
        return "0001-01-01T00:00:00.000Z"
    t = _EPOCH + dt.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_time(value: Any, field: str) -> int:
    """An RFC 3339 timestamp (any fraction length) as epoch milliseconds."""
    if value is None or value == "":
        return 0
    if not isinstance(value, str):
        raise BadRequest(f"{field} in body must be of type date-time: {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    date_part, sep, rest = text.partition(".")
    if sep:
        # Python takes at most 6 fraction digits; Go sends up to 9.
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{date_part}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{field} in body must be of type date-time: {value!r}") from None
    if t.tzinfo is None:
        raise BadRequest(f"{field} in body must be of type date-time: {value!r}")
    if t.year <= 1:
        return 0  # Go's zero time: amtool sends it for "not set"
    return (t - _EPOCH) // dt.timedelta(milliseconds=1)


# --- filters -----------------------------------------------------------------------


def parse_filter(values: Iterable[str]) -> list[Matcher]:
    out: list[Matcher] = []
    for text in values:
        try:
            out.extend(parse_matchers(text))
        except (MatcherParseError, RegexError) as exc:
            raise BadRequest(str(exc)) from None
    return out


def matches_filter(matchers: list[Matcher], lbls: dict[str, str]) -> bool:
    """Alertmanager's ``matchFilterLabels``: an empty-value matcher tests presence."""
    for m in matchers:
        present = m.name in lbls
        v = lbls.get(m.name, "")
        if m.type in (MatchType.NOT_EQUAL, MatchType.NOT_REGEX):
            if m.value == "" and present:
                continue
        elif m.value == "" and not present:
            continue
        if not m.matches(v):
            return False
    return True


def _bool_param(request: web.Request, name: str, default: bool = True) -> bool:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    low = raw.lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise BadRequest(f"{name} in query must be of type boolean: {raw!r}")


def _receiver_filter(request: web.Request) -> Callable[[str], bool] | None:
    raw = request.query.get("receiver")
    if not raw:
        return None
    try:
        rx = compile_anchored(raw)
    except RegexError as exc:
        raise BadRequest(f"failed to parse receiver param: {exc}") from None
    return lambda name: rx.fullmatch(name) is not None


# --- the API --------------------------------------------------------------------------


class AlertmanagerAPI:
    def __init__(self, services: Any) -> None:
        self.s = services
        self._started = time.time()

    @property
    def am(self) -> Alertmanager:
        am: Alertmanager = self.s.alertmanager
        return am

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/v2/alerts", self._guard(self.get_alerts)),
            web.post("/api/v2/alerts", self._guard(self.post_alerts)),
            web.get("/api/v2/alerts/groups", self._guard(self.get_groups)),
            web.get("/api/v2/silences", self._guard(self.get_silences)),
            web.post("/api/v2/silences", self._guard(self.post_silences)),
            web.get("/api/v2/silence/{id}", self._guard(self.get_silence)),
            web.delete("/api/v2/silence/{id}", self._guard(self.delete_silence)),
            web.get("/api/v2/status", self._guard(self.status)),
            web.get("/api/v2/receivers", self._guard(self.receivers)),
        ]

    @staticmethod
    def _guard(
        handler: Callable[[web.Request], Any],
    ) -> Callable[[web.Request], Any]:
        async def run(request: web.Request) -> web.StreamResponse:
            try:
                resp: web.StreamResponse = await handler(request)
                return resp
            except BadRequest as exc:
                return _bad(str(exc))

        return run

    # --- alerts -----------------------------------------------------------------------

    def _now(self) -> int:
        return self.am.dispatcher.clock() if hasattr(self.am, "dispatcher") else wall_clock_ms()

    def _alert_json(
        self, a: Alert, receivers: list[str], silenced: list[str], inhibited: list[str]
    ) -> dict[str, Any]:
        state = "suppressed" if silenced or inhibited else "active"
        out = {
            "annotations": dict(sorted(a.annotations.items())),
            "endsAt": format_time(a.ends_at),
            "fingerprint": fingerprint_hex(a.labels),
            "receivers": [{"name": r} for r in receivers],
            "startsAt": format_time(a.starts_at),
            "status": {"inhibitedBy": inhibited, "silencedBy": silenced, "state": state},
            "updatedAt": format_time(a.updated_at),
            "generatorURL": a.generator_url,
            "labels": dict(a.labels),
        }
        if not a.generator_url:
            del out["generatorURL"]  # omitempty in Alertmanager's model
        return out

    def _alert_filter(
        self, request: web.Request, *, by_receiver: bool = True
    ) -> Callable[[Alert], dict[str, Any] | None]:
        matchers = parse_filter(request.query.getall("filter", []))
        want_silenced = _bool_param(request, "silenced")
        want_inhibited = _bool_param(request, "inhibited")
        want_active = _bool_param(request, "active")
        receiver_ok = _receiver_filter(request) if by_receiver else None
        d = self.am.dispatcher
        now = self._now()

        def check(a: Alert) -> dict[str, Any] | None:
            if a.resolved_at(now):
                return None
            receivers = d.receivers_of(a)
            if receiver_ok is not None and not any(receiver_ok(r) for r in receivers):
                return None
            if not matches_filter(matchers, dict(a.labels)):
                return None
            silenced = d.silenced_by(a)
            inhibited = d.inhibited_by(a)
            if silenced and not want_silenced:
                return None
            if inhibited and not want_inhibited:
                return None
            if not silenced and not inhibited and not want_active:
                return None
            return self._alert_json(a, receivers, silenced, inhibited)

        return check

    async def get_alerts(self, request: web.Request) -> web.Response:
        check = self._alert_filter(request)
        out = [j for a in self.am.dispatcher.alerts() if (j := check(a)) is not None]
        out.sort(key=lambda j: j["fingerprint"])
        return _json(out)

    async def get_groups(self, request: web.Request) -> web.Response:
        check = self._alert_filter(request, by_receiver=False)
        receiver_ok = _receiver_filter(request)
        groups: list[tuple[AggregationGroup, list[Alert]]] = []
        receivers: dict[int, set[str]] = {}
        for ag in self.am.dispatcher.groups():
            if receiver_ok is not None and not receiver_ok(ag.receiver):
                continue
            alerts = [a for a in list(ag.alerts.values()) if check(a) is not None]
            if not alerts:
                continue
            groups.append((ag, sort_alerts(alerts)))
            for a in alerts:
                receivers.setdefault(a.fingerprint, set()).add(ag.receiver)
        # Alertmanager's order: groups by label set then receiver, alerts as in a
        # notification, each alert's receivers (of the listed groups) by name.
        groups.sort(key=cmp_to_key(_group_cmp))
        out = []
        for ag, alerts in groups:
            items = []
            for a in alerts:
                j = check(a)
                assert j is not None
                j["receivers"] = [{"name": r} for r in sorted(receivers[a.fingerprint])]
                items.append(j)
            out.append(
                {"alerts": items, "labels": dict(ag.labels), "receiver": {"name": ag.receiver}}
            )
        return _json(out)

    async def post_alerts(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f'parsing alerts body from "" failed, because {exc}') from None
        if not isinstance(body, list):
            raise BadRequest("alerts in body must be of type array")
        alerts: list[Alert] = []
        errors: list[str] = []
        for i, item in enumerate(body):
            try:
                alerts.append(_decode_alert(item, i))
            except BadRequest as exc:
                errors.append(str(exc))
        now = self._now()
        valid = []
        for a in alerts:
            stamped = a if a.starts_at else a.copy(starts_at=a.ends_at or now)
            try:
                validate(stamped)
            except AlertError as exc:
                errors.append(str(exc))
                continue
            valid.append(a)
        if valid:
            self.am.receive(valid)
        if errors:
            return _bad("; ".join(errors))
        return web.Response(status=200)

    # --- silences ---------------------------------------------------------------------

    def _silence_json(self, s: Silence, now: int) -> dict[str, Any]:
        return {
            "id": s.id,
            "status": {"state": s.state(now)},
            "updatedAt": format_time(s.updated_at),
            "comment": s.comment,
            "createdBy": s.created_by,
            "endsAt": format_time(s.ends_at),
            "matchers": matchers_to_json(s.matchers),
            "startsAt": format_time(s.starts_at),
        }

    async def get_silences(self, request: web.Request) -> web.Response:
        matchers = parse_filter(request.query.getall("filter", []))
        now = self._now()
        sils = [
            s
            for s in self.am.silences.list()
            if matches_filter(matchers, {m.name: m.value for m in s.matchers})
        ]
        # Alertmanager's order: active by end, pending by start, expired latest first.
        rank = {ACTIVE: 0, PENDING: 1, EXPIRED: 2}

        def key(s: Silence) -> tuple[int, int]:
            st = s.state(now)
            if st == ACTIVE:
                return (0, s.ends_at)
            if st == PENDING:
                return (1, s.starts_at)
            return (rank[EXPIRED], -s.ends_at)

        sils.sort(key=key)
        return _json([self._silence_json(s, now) for s in sils])

    async def post_silences(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f'parsing silence body from "" failed, because {exc}') from None
        if not isinstance(body, dict):
            raise BadRequest("silence in body must be of type object")
        for field in ("matchers", "startsAt", "endsAt", "createdBy", "comment"):
            if field not in body:
                raise BadRequest(f"{field} in body is required")
        items = body["matchers"]
        if not isinstance(items, list) or not all(isinstance(m, dict) for m in items):
            raise BadRequest("matchers in body must be of type array")
        for i, m in enumerate(items):
            for f in ("name", "value", "isRegex"):
                if f not in m:
                    raise BadRequest(f"matchers.{i}.{f} in body is required")
        try:
            matchers = matchers_from_json(items)
        except SilenceError as exc:
            raise BadRequest(str(exc)) from None
        starts = parse_time(body["startsAt"], "startsAt")
        ends = parse_time(body["endsAt"], "endsAt")
        if starts >= ends:
            raise BadRequest("Failed to create silence: start time must be before end time")
        if ends < self._now():
            raise BadRequest("Failed to create silence: end time can't be in the past")
        sil = Silence(
            matchers,
            starts,
            ends,
            created_by=str(body.get("createdBy") or ""),
            comment=str(body.get("comment") or ""),
            id=str(body.get("id") or ""),
        )
        try:
            sid = self.am.silences.set(sil)
        except SilenceNotFound:
            return web.Response(status=404)
        except SilenceError as exc:
            raise BadRequest(str(exc)) from None
        return _json({"silenceID": sid})

    @staticmethod
    def _silence_id(request: web.Request) -> str | None:
        sid = request.match_info["id"]
        try:
            uuid.UUID(sid)
        except ValueError:
            return None
        return sid

    async def get_silence(self, request: web.Request) -> web.Response:
        sid = self._silence_id(request)
        if sid is None:
            return _json({"code": 605, "message": "silenceID in path must be of type uuid"}, 422)
        sil = self.am.silences.get(sid)
        if sil is None:
            return web.Response(status=404)
        return _json(self._silence_json(sil, self._now()))

    async def delete_silence(self, request: web.Request) -> web.Response:
        sid = self._silence_id(request)
        if sid is None:
            return _json({"code": 605, "message": "silenceID in path must be of type uuid"}, 422)
        try:
            self.am.silences.expire(sid)
        except SilenceNotFound:
            return web.Response(status=404)
        return web.Response(status=200)

    # --- status -----------------------------------------------------------------------

    async def status(self, request: web.Request) -> web.Response:
        started = getattr(self.s, "start_time", None) or self._started
        return _json(
            {
                "cluster": {"peers": [], "status": "disabled"},
                "config": {"original": masked_yaml(self.am.config)},
                "uptime": format_time(int(started * 1000)),
                "versionInfo": VERSION_INFO,
            }
        )

    async def receivers(self, request: web.Request) -> web.Response:
        return _json([{"name": r.name} for r in self.am.config.receivers])


def _label_set_cmp(a: Labels, b: Labels) -> int:
    """prometheus/common ``LabelSet.Before``: fewer labels first; then, over the
    sorted union of names, the first difference decides (a missing label first)."""
    if len(a) != len(b):
        return -1 if len(a) < len(b) else 1
    da, db = dict(a), dict(b)
    for name in sorted(da.keys() | db.keys()):
        if name not in da:
            return -1
        if name not in db:
            return 1
        if da[name] != db[name]:
            return -1 if da[name] < db[name] else 1
    return 0


def _group_cmp(
    x: tuple[AggregationGroup, list[Alert]], y: tuple[AggregationGroup, list[Alert]]
) -> int:
    c = _label_set_cmp(x[0].labels, y[0].labels)
    if c:
        return c
    return (x[0].receiver > y[0].receiver) - (x[0].receiver < y[0].receiver)


def _decode_alert(item: Any, i: int) -> Alert:
    if not isinstance(item, dict):
        raise BadRequest(f"{i} in body must be of type object")
    labels = item.get("labels")
    if labels is None:
        raise BadRequest(f"{i}.labels in body is required")
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise BadRequest(f"{i}.labels in body must be a map of strings")
    annotations = item.get("annotations") or {}
    if not isinstance(annotations, dict) or not all(
        isinstance(v, str) for v in annotations.values()
    ):
        raise BadRequest(f"{i}.annotations in body must be a map of strings")
    generator = item.get("generatorURL") or ""
    if not isinstance(generator, str):
        raise BadRequest(f"{i}.generatorURL in body must be of type uri")
    # Alertmanager drops labels with empty values before validating.
    lbls: Labels = from_dict({k: v for k, v in labels.items() if v != ""})
    return Alert(
        lbls,
        {k: v for k, v in annotations.items()},
        starts_at=parse_time(item.get("startsAt"), f"{i}.startsAt"),
        ends_at=parse_time(item.get("endsAt"), f"{i}.endsAt"),
        generator_url=generator,
    )
