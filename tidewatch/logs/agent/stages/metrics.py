"""``metrics``: Promtail's custom metrics from log lines (counters, gauges, histograms),
labelled with the line's labels and exposed with the agent's own metrics."""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterable

from prometheus_client.core import Metric

from tidewatch.config.relabel import is_legacy_label_name
from tidewatch.config.yamlnodes import MapView
from tidewatch.logs.agent.stages.base import Entry, Stage, StageBuild, get_string

DEFAULT_PREFIX = "promtail_custom_"
DEFAULT_IDLE_MS = 5 * 60_000
_KINDS = {"counter": "counter", "gauge": "gauge", "histogram": "histogram"}
_ACTIONS = {
    "counter": ("inc", "add"),
    "gauge": ("set", "inc", "dec", "add", "sub"),
    "histogram": ("",),
}
_DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LabelKey = tuple[tuple[str, str], ...]


class CustomMetric:
    """One metric of a ``metrics`` stage: a value (or histogram) per label set."""

    def __init__(
        self,
        name: str,
        kind: str,
        help_text: str,
        source: str,
        value: str | None,
        action: str,
        match_all: bool,
        count_bytes: bool,
        buckets: tuple[float, ...],
        idle_ns: int,
    ) -> None:
        self.name = name
        self.kind = kind
        self.help = help_text
        self.source = source
        self.value = value
        self.action = action
        self.match_all = match_all
        self.count_bytes = count_bytes
        self.buckets = buckets
        self.idle_ns = idle_ns
        self.values: dict[LabelKey, float] = {}
        self.hist: dict[LabelKey, tuple[list[int], list[float]]] = {}  # counts, [sum, count]
        self.touched: dict[LabelKey, int] = {}

    def _amount(self, e: Entry) -> float | None:
        """The number this line contributes, or None when it does not count."""
        if self.match_all:
            return float(len(e.line.encode())) if self.count_bytes else 1.0
        if self.source not in e.extracted:
            return None
        try:
            text = get_string(e.extracted[self.source])
        except TypeError:
            return None
        if self.value is not None and text != self.value:
            return None
        if self.kind == "counter" and self.action == "inc":
            return 1.0
        if self.kind == "gauge" and self.action in ("inc", "dec"):
            return 1.0
        try:
            return float(text)
        except ValueError:
            return None

    def observe(self, e: Entry, now: int) -> None:
        amount = self._amount(e)
        if amount is None:
            return
        key = tuple(sorted((k, v) for k, v in e.labels.items() if not k.startswith("__")))
        self.touched[key] = now
        if self.kind == "histogram":
            counts, sc = self.hist.setdefault(key, ([0] * len(self.buckets), [0.0, 0.0]))
            i = bisect.bisect_left(self.buckets, amount)
            if i < len(counts):
                counts[i] += 1
            sc[0] += amount
            sc[1] += 1
            return
        cur = self.values.get(key, 0.0)
        if self.kind == "counter":
            if amount >= 0:  # counters never go down
                self.values[key] = cur + amount
        elif self.action == "set":
            self.values[key] = amount
        elif self.action in ("inc", "add"):
            self.values[key] = cur + amount
        else:  # dec, sub
            self.values[key] = cur - amount

    def expire(self, now: int) -> None:
        if not self.idle_ns:
            return
        for key in [k for k, t in list(self.touched.items()) if now - t > self.idle_ns]:
            self.touched.pop(key, None)
            self.values.pop(key, None)
            self.hist.pop(key, None)

    def collect(self) -> Metric:
        self.expire(time.monotonic_ns())
        kind, family = self.kind, self.name
        if kind == "counter":
            # The exposition adds "_total" to a counter family's name; a counter named
            # without it keeps its exact name as an untyped series, as users query it.
            if family.endswith("_total"):
                family = family[: -len("_total")]
            else:
                kind = "unknown"
        m = Metric(family, self.help or self.name, kind)
        for key, v in list(self.values.items()):
            m.add_sample(self.name, dict(key), v)
        for key, (counts, (total, n)) in list(self.hist.items()):
            labels = dict(key)
            running = 0
            for bound, c in zip(self.buckets, counts, strict=True):
                running += c
                m.add_sample(self.name + "_bucket", {**labels, "le": _le(bound)}, running)
            m.add_sample(self.name + "_bucket", {**labels, "le": "+Inf"}, n)
            m.add_sample(self.name + "_sum", labels, total)
            m.add_sample(self.name + "_count", labels, n)
        return m


def _le(bound: float) -> str:
    return str(int(bound)) + ".0" if bound == math.floor(bound) else repr(bound)


class MetricsStage(Stage):
    name = "metrics"

    def __init__(self, metrics: list[CustomMetric]) -> None:
        self.metrics = metrics

    def process(self, entries: list[Entry]) -> list[Entry]:
        now = time.monotonic_ns()
        for m in self.metrics:
            for e in entries:
                m.observe(e, now)
        return entries


def custom_metrics_of(stages: Iterable[Stage]) -> list[Metric]:
    """Families of every ``metrics`` stage in ``stages`` (and nested ``match`` stages)."""
    out: list[Metric] = []
    for st in stages:
        if isinstance(st, MetricsStage):
            out.extend(m.collect() for m in st.metrics)
        nested = getattr(st, "nested", None)
        if nested is not None:
            out.extend(custom_metrics_of(nested.stages))
    return out


def _decode_metric(view: MapView, name: str) -> CustomMetric:
    mv = view.map(name, {"type", "description", "source", "prefix", "max_idle_duration", "config"})
    kind_text = mv.string("type")
    kind = _KINDS.get(kind_text.lower())
    if kind is None:
        raise mv.error(
            "type", f'metric type must be Counter, Gauge or Histogram, not "{kind_text}"'
        )
    full = mv.string("prefix", DEFAULT_PREFIX) + name
    if not is_legacy_label_name(full.replace(":", "_")):
        raise mv.error_here(f'invalid metric name "{full}"')
    cfg = mv.map("config", {"value", "action", "match_all", "count_entry_bytes", "buckets"})
    action = cfg.string("action", "")
    if kind != "histogram" and action not in _ACTIONS[kind]:
        raise cfg.error(
            "action", f"{kind} action must be one of {', '.join(_ACTIONS[kind])}, not {action!r}"
        )
    match_all = cfg.boolean("match_all", False)
    count_bytes = cfg.boolean("count_entry_bytes", False)
    if count_bytes and not (match_all and kind == "counter"):
        raise cfg.error("count_entry_bytes", "count_entry_bytes needs a counter with match_all")
    buckets: tuple[float, ...] = _DEFAULT_BUCKETS
    if kind == "histogram" and cfg.has("buckets"):
        buckets = tuple(sorted(cfg.ctx.as_float(n, p) for n, p in cfg.seq("buckets")))
    source = mv.string("source") or name
    return CustomMetric(
        full,
        kind,
        mv.string("description"),
        source,
        cfg.string("value") if cfg.has("value") else None,
        action,
        match_all,
        count_bytes,
        buckets,
        mv.duration("max_idle_duration", DEFAULT_IDLE_MS) * 1_000_000,
    )


def build_metrics(view: MapView, build: StageBuild) -> Stage:
    names = view.names()
    if not names:
        raise view.error_here("metrics stage needs at least one metric")
    return MetricsStage([_decode_metric(view, n) for n in names])
