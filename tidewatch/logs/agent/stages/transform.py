"""Stages that rewrite: ``timestamp``, ``output``, ``template``, ``replace``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from tidewatch.config.yamlnodes import MapView
from tidewatch.logs.agent.stages.base import (
    Entry,
    Stage,
    StageBuild,
    compile_regex_field,
    get_string,
    source_value,
)
from tidewatch.logs.agent.stages.gotime import TimeParseError, time_parser
from tidewatch.logs.logql.template_funcs import LineContext, loki_funcs
from tidewatch.templating import Template, TemplateError

_MAX_FUDGE_STREAMS = 10_000


class TimestampStage(Stage):
    name = "timestamp"

    def __init__(self, source: str, parsers: list[Callable[[str], int]], fudge: bool) -> None:
        self.source = source
        self.parsers = parsers
        self.fudge = fudge
        # Last good time per stream: a line that fails to parse goes 1 ns after it.
        self.last: dict[tuple[tuple[str, str], ...], int] = {}

    def _parse(self, text: str) -> int | None:
        for parse in self.parsers:
            try:
                return parse(text)
            except TimeParseError:
                continue
        return None

    def process(self, entries: list[Entry]) -> list[Entry]:
        last = self.last
        for e in entries:
            value = e.extracted.get(self.source)
            if value is None:
                continue
            try:
                text = get_string(value)
            except TypeError:
                continue
            ts = self._parse(text)
            if not self.fudge:
                if ts is not None:
                    e.ts = ts
                continue
            key = tuple(sorted(e.labels.items()))
            if ts is not None:
                e.ts = ts
                if len(last) >= _MAX_FUDGE_STREAMS and key not in last:
                    last.clear()
                last[key] = ts
            elif key in last:
                last[key] += 1
                e.ts = last[key]
        return entries


def build_timestamp(view: MapView, build: StageBuild) -> Stage:
    source = view.string("source")
    if not source:
        raise view.error("source", "source is required")
    fmt = view.string("format")
    if not fmt:
        raise view.error("format", "format is required")
    location = view.string("location")
    action = view.string("action_on_failure", "fudge")
    if action not in ("fudge", "skip"):
        raise view.error("action_on_failure", f"invalid action on failure {action!r}")
    try:
        parsers = [time_parser(f, location) for f in [fmt, *view.str_list("fallback_formats")]]
    except ValueError as exc:
        raise view.error("location", str(exc)) from None
    return TimestampStage(source, parsers, action == "fudge")


class OutputStage(Stage):
    name = "output"

    def __init__(self, source: str) -> None:
        self.source = source

    def process(self, entries: list[Entry]) -> list[Entry]:
        src = self.source
        for e in entries:
            if src in e.extracted:
                try:
                    e.line = get_string(e.extracted[src])
                except TypeError:
                    continue
        return entries


def build_output(view: MapView, build: StageBuild) -> Stage:
    source = view.string("source")
    if not source:
        raise view.error("source", "source is required")
    return OutputStage(source)


def _hash(fn: Callable[[bytes], Any]) -> Callable[[Any, Any], str]:
    return lambda a, b: str(fn((get_string(a) + get_string(b)).encode()).hexdigest())


def _template(view: MapView, key: str, text: str) -> tuple[Template, LineContext]:
    ctx = LineContext()
    funcs = loki_funcs(ctx)
    funcs["Hash"] = _hash(hashlib.sha3_256)
    funcs["Sha2Hash"] = _hash(hashlib.sha256)
    try:
        return Template(key, funcs).parse(text), ctx
    except TemplateError as exc:
        raise view.error(key, f"could not compile template: {exc}") from None


def _template_data(e: Entry) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for k, v in e.extracted.items():
        try:
            data[k] = get_string(v)
        except TypeError:
            continue
    return data


class TemplateStage(Stage):
    name = "template"

    def __init__(self, source: str, tmpl: Template, ctx: LineContext) -> None:
        self.source = source
        self.tmpl = tmpl
        self.ctx = ctx

    def process(self, entries: list[Entry]) -> list[Entry]:
        src = self.source
        for e in entries:
            data = _template_data(e)
            if src in data:
                data["Value"] = data[src]
            self.ctx.line, self.ctx.ts_ns = e.line, e.ts
            try:
                e.extracted[src] = self.tmpl.execute(data)
            except TemplateError:
                continue
        return entries


def build_template(view: MapView, build: StageBuild) -> Stage:
    source = view.string("source")
    if not source:
        raise view.error("source", "source is required")
    text = view.string("template")
    if not text:
        raise view.error("template", "template is required")
    tmpl, ctx = _template(view, "template", text)
    return TemplateStage(source, tmpl, ctx)


class ReplaceStage(Stage):
    """Each capture group of each match is replaced with the rendered ``replace``
    template (``.Value`` is the captured text); named groups land in extracted."""

    name = "replace"

    def __init__(self, regex: Any, source: str, tmpl: Template | None, ctx: LineContext) -> None:
        self.regex = regex
        self.source = source
        self.tmpl = tmpl
        self.ctx = ctx
        self.group_names = {i: n for n, i in regex.groupindex.items()}
        self.n_groups = int(regex.groups)

    def _replace_one(self, e: Entry, text: str) -> str | None:
        matches = list(self.regex.finditer(text))
        if not matches:
            return None
        data: dict[str, Any] | None = None
        out: list[str] = []
        pos = 0
        for m in matches:
            for g in range(1, self.n_groups + 1):
                start, end = m.span(g)
                if start < 0 or start < pos:
                    continue
                captured = text[start:end]
                rendered = ""
                if self.tmpl is not None:
                    if data is None:
                        data = _template_data(e)
                    data["Value"] = captured
                    self.ctx.line, self.ctx.ts_ns = e.line, e.ts
                    try:
                        rendered = self.tmpl.execute(data)
                    except TemplateError:
                        return None
                name = self.group_names.get(g)
                if name is not None:
                    e.extracted[name] = rendered if self.tmpl is not None else captured
                out.append(text[pos:start])
                out.append(rendered)
                pos = end
        out.append(text[pos:])
        return "".join(out)

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            text = source_value(e, self.source)
            if text is None:
                continue
            result = self._replace_one(e, text)
            if result is None:
                continue
            if self.source:
                e.extracted[self.source] = result
            else:
                e.line = result
        return entries


def build_replace(view: MapView, build: StageBuild) -> Stage:
    expr = view.string("expression")
    if not expr:
        raise view.error("expression", "expression is required")
    rx = compile_regex_field(view, "expression", expr)
    replace = view.string("replace")
    tmpl, ctx = _template(view, "replace", replace) if replace else (None, LineContext())
    return ReplaceStage(rx, view.string("source"), tmpl, ctx)
