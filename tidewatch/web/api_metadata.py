"""Series, label, metadata, target and status endpoints of Prometheus's HTTP API."""

from __future__ import annotations

import asyncio

from aiohttp import web
from multidict import MultiDict

import tidewatch
from tidewatch.config.loader import config_to_yaml
from tidewatch.labels import Labels
from tidewatch.matcher import Matcher
from tidewatch.promql.parser import ParseError, parse_metric_selector
from tidewatch.web.params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    optional_limit,
    optional_time,
    read_params,
)
from tidewatch.web.responses import APIError, bad_data, invalid_param, success
from tidewatch.web.services import Services

TRUNCATED_WARNING = "results truncated due to limit"


def parse_match_params(values: list[str]) -> list[list[Matcher]]:
    sets: list[list[Matcher]] = []
    for text in values:
        try:
            matchers = parse_metric_selector(text)
        except ParseError as exc:
            raise invalid_param("match[]", str(exc)) from None
        if all(m.matches("") for m in matchers):
            raise bad_data("match[] must contain at least one non-empty matcher")
        sets.append(matchers)
    return sets


def _time_range(params: MultiDict[str]) -> tuple[int, int]:
    start = optional_time(params, "start", MIN_TIME_MS)
    end = optional_time(params, "end", MAX_TIME_MS)
    return start, end


class MetadataAPI:
    def __init__(self, services: Services) -> None:
        self.s = services

    def routes(self) -> list[web.RouteDef]:
        get_post = []
        for path, handler in (
            ("/api/v1/series", self.series),
            ("/api/v1/labels", self.labels),
        ):
            get_post += [web.get(path, handler), web.post(path, handler)]
        return [
            *get_post,
            web.get("/api/v1/label/{name}/values", self.label_values),
            web.get("/api/v1/metadata", self.metadata),
            web.get("/api/v1/targets", self.targets),
            web.get("/api/v1/targets/metadata", self.targets_metadata),
            web.get("/api/v1/status/buildinfo", self.buildinfo),
            web.get("/api/v1/status/config", self.status_config),
            web.get("/api/v1/status/flags", self.status_flags),
            web.get("/api/v1/status/runtimeinfo", self.runtime_info),
            web.get("/api/v1/status/tsdb", self.status_tsdb),
        ]

    async def series(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        match = params.getall("match[]", [])
        if not match:
            raise bad_data("no match[] parameter provided")
        limit = optional_limit(params)
        start, end = _time_range(params)
        sets = parse_match_params(match)

        def run() -> list[Labels]:
            q = self.s.tsdb.querier()
            try:
                found: set[Labels] = set()
                for matchers in sets:
                    found.update(q.series_labels(matchers, start, end))
                return sorted(found)
            finally:
                q.close()

        series = await asyncio.to_thread(run)
        warnings = []
        if limit and len(series) > limit:
            series = series[:limit]
            warnings.append(TRUNCATED_WARNING)
        return success([dict(lbls) for lbls in series], warnings=warnings)

    async def labels(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        limit = optional_limit(params)
        start, end = _time_range(params)
        sets = parse_match_params(params.getall("match[]", []))

        def run() -> list[str]:
            q = self.s.tsdb.querier()
            try:
                names: set[str] = set()
                for matchers in sets or [[]]:
                    names.update(q.label_names(matchers, start, end))
                return sorted(names)
            finally:
                q.close()

        names = await asyncio.to_thread(run)
        return _limited(names, limit)

    async def label_values(self, request: web.Request) -> web.Response:
        name = _decode_label_name(request.match_info["name"])
        params = await read_params(request)
        limit = optional_limit(params)
        start, end = _time_range(params)
        sets = parse_match_params(params.getall("match[]", []))

        def run() -> list[str]:
            q = self.s.tsdb.querier()
            try:
                values: set[str] = set()
                for matchers in sets or [[]]:
                    values.update(q.label_values(name, matchers, start, end))
                return sorted(values)
            finally:
                q.close()

        values = await asyncio.to_thread(run)
        return _limited(values, limit)

    async def metadata(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        limit = _int_param(params, "limit", -1)
        per_metric = _int_param(params, "limit_per_metric", -1)
        metric = params.get("metric", "")
        out: dict[str, list[dict[str, str]]] = {}
        for family, metas in sorted(self.s.tsdb.metadata().items()):
            if metric and family != metric:
                continue
            if 0 <= limit <= len(out):
                break
            entries: list[dict[str, str]] = []
            for m in metas:
                entry = {"type": m.type, "help": m.help, "unit": m.unit}
                if entry not in entries:
                    entries.append(entry)
            if per_metric >= 0:
                entries = entries[:per_metric]
            out[family] = entries
        return success(out)

    async def targets(self, request: web.Request) -> web.Response:
        state = request.query.get("state", "any")
        pool = request.query.get("scrapePool", "")
        return success(self.s.scrape_manager.targets_api(state=state, scrape_pool=pool))

    async def targets_metadata(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        limit = _int_param(params, "limit", -1)
        match_target: list[Matcher] | None = None
        if params.get("match_target", ""):
            try:
                match_target = parse_metric_selector(params["match_target"])
            except ParseError as exc:
                raise invalid_param("match_target", str(exc)) from None
        metric = params.get("metric", "")
        return success(self.s.scrape_manager.targets_metadata(match_target, metric, limit))

    async def buildinfo(self, request: web.Request) -> web.Response:
        return success(build_info())

    async def status_config(self, request: web.Request) -> web.Response:
        return success({"yaml": config_to_yaml(self.s.config)})

    async def status_flags(self, request: web.Request) -> web.Response:
        return success(self.s.flags)

    async def runtime_info(self, request: web.Request) -> web.Response:
        return success(self.s.runtime_info())

    async def status_tsdb(self, request: web.Request) -> web.Response:
        limit = _int_param(await read_params(request), "limit", 10)
        if limit < 1:
            raise bad_data("limit must be a positive number")
        return success(await asyncio.to_thread(self.s.tsdb.stats, limit))


def build_info() -> dict[str, str]:
    import platform

    return {
        "version": tidewatch.__version__,
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": f"python{platform.python_version()}",
    }


def _limited(items: list[str], limit: int) -> web.Response:
    if limit and len(items) > limit:
        return success(items[:limit], warnings=[TRUNCATED_WARNING])
    return success(items)


def _int_param(params: MultiDict[str], name: str, default: int) -> int:
    text = params.get(name, "")
    if text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise invalid_param(name, f'cannot parse "{text}" to a valid integer') from None


def _decode_label_name(raw: str) -> str:
    """Label names in the path may use Prometheus 3's ``U__`` escaping for UTF-8 names."""
    name = raw
    if raw.startswith("U__"):
        name = _unescape_u(raw[3:])
    if not name or "\x00" in name:
        raise APIError("bad_data", f'invalid label name: "{raw}"')
    return name


def _unescape_u(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "_" and i + 1 < len(text) and text[i + 1] == "_":
            out.append("_")
            i += 2
        elif c == "_":
            end = text.find("_", i + 1)
            if end == -1:
                raise APIError("bad_data", f'invalid label name: "U__{text}"')
            try:
                out.append(chr(int(text[i + 1 : end], 16)))
            except ValueError:
                raise APIError("bad_data", f'invalid label name: "U__{text}"') from None
            i = end + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)
