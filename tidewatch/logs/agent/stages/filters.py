"""Stages that decide whether a line goes on: ``drop``, ``limit``, ``match``."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from tidewatch.config.yamlnodes import MapView, is_null
from tidewatch.labels import Labels
from tidewatch.logs.agent.stages.base import (
    Entry,
    Pipeline,
    PipelineStats,
    Stage,
    StageBuild,
    compile_regex_field,
    get_string,
)
from tidewatch.logs.agent.stages.fastre import searcher
from tidewatch.logs.logql import ast
from tidewatch.logs.logql.parser import ParseError, parse_expr
from tidewatch.logs.logql.pipeline import Pipeline as LogQLPipeline
from tidewatch.logs.logql.pipeline import PipelineError
from tidewatch.logs.logql.store import StreamChunk
from tidewatch.matcher import Matcher, matches_all


class DropStage(Stage):
    """Drops a line when every condition that is set holds (Promtail's ``drop``)."""

    name = "drop"

    def __init__(
        self,
        sources: list[str],
        separator: str,
        value: str | None,
        regex: Any,
        older_than_ns: int,
        longer_than: int,
        reason: str,
        stats: PipelineStats,
    ) -> None:
        self.sources = sources
        self.separator = separator
        self.value = value
        self.search = searcher(regex) if regex is not None else None
        self.older_than_ns = older_than_ns
        self.longer_than = longer_than
        self.reason = reason
        self.stats = stats

    def _should_drop(self, e: Entry, now_ns: int) -> bool:
        if self.older_than_ns and e.ts >= now_ns - self.older_than_ns:
            return False
        if self.longer_than and len(e.line.encode()) <= self.longer_than:
            return False
        if self.sources:
            ex = e.extracted
            if any(s not in ex for s in self.sources):
                return False
            try:
                text = self.separator.join(get_string(ex[s]) for s in self.sources)
            except TypeError:
                return False
            if self.search is not None:
                return self.search(text)
            if self.value is not None:
                return text == self.value
            return True
        if self.search is not None:
            return self.search(e.line)
        return True

    def process(self, entries: list[Entry]) -> list[Entry]:
        now = time.time_ns()
        out = [e for e in entries if not self._should_drop(e, now)]
        if len(out) != len(entries):
            self.stats.dropped[self.reason] += len(entries) - len(out)
        return out


def build_drop(view: MapView, build: StageBuild) -> Stage:
    sources: list[str] = []
    if view.has("source"):
        node = view.node("source")
        if hasattr(node, "value") and isinstance(node.value, list):
            sources = view.str_list("source")
        else:
            sources = [view.string("source")]
    value = view.string("value") if view.has("value") else None
    expr = view.string("expression")
    if value is not None and expr:
        raise view.error("value", "value and expression are mutually exclusive")
    if value is not None and not sources:
        raise view.error("value", "value requires source")
    older = view.duration("older_than", 0) * 1_000_000
    longer = view.size("longer_than", 0, bare_int_is_bytes=True)
    if not (sources or value is not None or expr or older or longer):
        raise view.error_here(
            "drop stage needs at least one of source, expression, value, older_than or longer_than"
        )
    regex = compile_regex_field(view, "expression", expr) if expr else None
    reason = view.string("drop_counter_reason", "drop_stage")
    return DropStage(
        sources, view.string("separator", ";"), value, regex, older, longer, reason, build.stats
    )


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens = tokens
        self.at = at


class LimitStage(Stage):
    """A token bucket (per value of ``by_label_name`` when set). With ``drop`` lines over
    the rate are dropped; without, they pass and the reader is asked to slow down."""

    name = "limit"

    def __init__(
        self,
        rate: float,
        burst: int,
        drop: bool,
        by_label: str,
        max_distinct: int,
        stats: PipelineStats,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.drop = drop
        self.by_label = by_label
        self.max_distinct = max_distinct
        self.stats = stats
        self.buckets: dict[str, _Bucket] = {}

    def _bucket(self, key: str, now: float) -> _Bucket:
        b = self.buckets.get(key)
        if b is None:
            if len(self.buckets) >= self.max_distinct:
                self.buckets.clear()  # as Promtail: forget all limiters past the cap
            b = self.buckets[key] = _Bucket(self.burst, now)
        else:
            b.tokens = min(self.burst, b.tokens + (now - b.at) * self.rate)
            b.at = now
        return b

    def process(self, entries: list[Entry]) -> list[Entry]:
        now = time.monotonic()
        out: list[Entry] = []
        for e in entries:
            key = ""
            if self.by_label:
                key = e.labels.get(self.by_label, "")
                if not key:
                    out.append(e)  # lines without the label are not limited
                    continue
            b = self._bucket(key, now)
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                out.append(e)
            elif self.drop:
                self.stats.dropped["ratelimit"] += 1
            else:
                b.tokens -= 1.0
                out.append(e)
                if self.rate > 0:
                    self.stats.delay_s = max(self.stats.delay_s, -b.tokens / self.rate)
        return out

    def admit(self, n: int) -> int:
        """How many of ``n`` lines pass the (single) bucket now; without ``drop`` all
        pass and the reader is slowed instead."""
        b = self._bucket("", time.monotonic())
        if self.drop:
            ok = min(n, max(0, int(b.tokens)))
            b.tokens -= ok
            return ok
        b.tokens -= n
        if b.tokens < 0 and self.rate > 0:
            self.stats.delay_s = max(self.stats.delay_s, -b.tokens / self.rate)
        return n


def build_limit(view: MapView, build: StageBuild) -> Stage:
    rate = view.number("rate", 0.0)
    if rate <= 0:
        raise view.error("rate", "limit stage needs a positive rate")
    burst = view.uint("burst", 0)
    if burst <= 0:
        raise view.error("burst", "limit stage needs a positive burst")
    return LimitStage(
        rate,
        burst,
        view.boolean("drop", False),
        view.string("by_label_name"),
        view.uint("max_distinct_labels", 10_000),
        build.stats,
    )


class MatchStage(Stage):
    """Lines whose labels (and line filters) match ``selector`` go through the nested
    stages (``action: keep``) or are dropped (``action: drop``); others pass unchanged."""

    name = "match"

    def __init__(
        self,
        matchers: list[Matcher],
        logql: LogQLPipeline | None,
        nested: Pipeline | None,
        reason: str,
        stats: PipelineStats,
    ) -> None:
        self.matchers = matchers
        self.logql = logql
        self.nested = nested
        self.reason = reason
        self.stats = stats

    def _matching(self, entries: list[Entry]) -> set[int]:
        groups: dict[Labels, list[Entry]] = {}
        for e in entries:
            groups.setdefault(tuple(sorted(e.labels.items())), []).append(e)
        hit: set[int] = set()
        for lbls, group in groups.items():
            if not matches_all(self.matchers, lbls):
                continue
            if self.logql is None:
                hit.update(id(e) for e in group)
                continue
            chunk = StreamChunk(
                lbls,
                np.fromiter((e.ts for e in group), np.int64, len(group)),
                [e.line for e in group],
            )
            for i in self.logql.process(chunk).index:
                hit.add(id(group[i]))
        return hit

    def process(self, entries: list[Entry]) -> list[Entry]:
        hit = self._matching(entries)
        if not hit:
            return entries
        if self.nested is None:  # action: drop
            self.stats.dropped[self.reason] += len(hit)
            return [e for e in entries if id(e) not in hit]
        processed = self.nested.process([e for e in entries if id(e) in hit])
        kept = {id(e) for e in processed}
        out = [e for e in entries if id(e) not in hit or id(e) in kept]
        given = {id(e) for e in entries}
        out.extend(e for e in processed if id(e) not in given)  # released by a nested multiline
        return out

    def flush(self, now_ns: int, force: bool) -> list[Entry]:
        return self.nested.flush(now_ns, force) if self.nested is not None else []


def build_match(view: MapView, build: StageBuild) -> Stage:
    selector = view.string("selector")
    if not selector:
        raise view.error("selector", "selector statement required for match stage")
    try:
        expr = parse_expr(selector)
    except ParseError as exc:
        raise view.error("selector", f"invalid selector syntax for match stage: {exc}") from None
    if not isinstance(expr, ast.LogQuery):
        raise view.error("selector", "match stage selector must be a log selector")
    try:
        logql = LogQLPipeline(expr.stages) if expr.stages else None
    except PipelineError as exc:
        raise view.error("selector", str(exc)) from None
    action = view.string("action", "keep")
    if action not in ("keep", "drop"):
        raise view.error("action", f"match stage action should be 'keep' or 'drop', not {action!r}")
    nested: Pipeline | None = None
    if action == "keep":
        if not view.has("stages") or is_null(view.node("stages")):
            raise view.error("stages", "match stage configuration must contain at least one stage")
        nested = Pipeline(build.nested(view.node("stages"), view.path_of("stages")), build.stats)
    elif view.has("stages"):
        raise view.error("stages", "match stage with action drop takes no stages")
    reason = view.string("drop_counter_reason", "match_stage")
    return MatchStage(expr.matchers, logql, nested, reason, build.stats)
