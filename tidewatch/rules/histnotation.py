"""Native-histogram values in promtool's series notation (``{{schema:1 sum:3 buckets:[1 2]}}``).

The PromQL engine works on float samples only. Rule unit tests may still load
histogram-valued input series and check them with a plain selector, so this
module keeps those series on the side and answers instant selections of them
(last sample within the lookback window, staleness and counter-reset hints as
Prometheus's chunk encoding sets them). Anything beyond a bare selector over
histogram series is reported as unsupported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tidewatch.labels import METRIC_NAME, Labels
from tidewatch.promql.ast import VectorSelector
from tidewatch.promql.parser import parse_expr
from tidewatch.promql.printer import format_float_v

_INT_FIELDS = ("schema", "offset", "n_offset")
_FLOAT_FIELDS = ("sum", "count", "z_bucket", "z_bucket_w")
_LIST_FIELDS = ("buckets", "n_buckets", "custom_values")


class HistogramError(ValueError):
    pass


@dataclass(frozen=True)
class Histogram:
    schema: int = 0
    count: float = 0.0
    sum: float = 0.0
    z_bucket: float = 0.0
    z_bucket_w: float = 0.0
    offset: int = 0
    buckets: tuple[float, ...] = ()
    n_offset: int = 0
    n_buckets: tuple[float, ...] = ()
    custom_values: tuple[float, ...] = ()
    hint: str = ""  # counter_reset_hint: "", "reset", "not_reset", "gauge"

    def add(self, other: Histogram) -> Histogram:
        return replace(
            self,
            count=self.count + other.count,
            sum=self.sum + other.sum,
            z_bucket=self.z_bucket + other.z_bucket,
            buckets=_add_lists(self.buckets, other.buckets),
            n_buckets=_add_lists(self.n_buckets, other.n_buckets),
        )

    def sub(self, other: Histogram) -> Histogram:
        neg = replace(
            other,
            count=-other.count,
            sum=-other.sum,
            z_bucket=-other.z_bucket,
            buckets=tuple(-b for b in other.buckets),
            n_buckets=tuple(-b for b in other.n_buckets),
        )
        return self.add(neg)

    def is_reset_from(self, prev: Histogram) -> bool:
        if self.count < prev.count or self.z_bucket < prev.z_bucket:
            return True
        pairs = list(zip(self.buckets, prev.buckets, strict=False)) + list(
            zip(self.n_buckets, prev.n_buckets, strict=False)
        )
        return any(a < b for a, b in pairs)

    def __str__(self) -> str:
        parts: list[str] = []
        if self.schema:
            parts.append(f"schema:{self.schema}")
        parts.append(f"count:{format_float_v(self.count)}")
        parts.append(f"sum:{format_float_v(self.sum)}")
        if self.z_bucket:
            parts.append(f"z_bucket:{format_float_v(self.z_bucket)}")
        if self.z_bucket_w:
            parts.append(f"z_bucket_w:{format_float_v(self.z_bucket_w)}")
        if self.custom_values:
            parts.append(f"custom_values:{_list(self.custom_values)}")
        if self.offset:
            parts.append(f"offset:{self.offset}")
        if self.buckets:
            parts.append(f"buckets:{_list(self.buckets)}")
        if self.n_offset:
            parts.append(f"n_offset:{self.n_offset}")
        if self.n_buckets:
            parts.append(f"n_buckets:{_list(self.n_buckets)}")
        if self.hint and self.hint != "unknown":
            parts.append(f"counter_reset_hint:{self.hint}")
        return "{{" + " ".join(parts) + "}}"


def _list(values: tuple[float, ...]) -> str:
    return "[" + " ".join(format_float_v(v) for v in values) + "]"


def _add_lists(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    n = max(len(a), len(b))
    return tuple((a[i] if i < len(a) else 0.0) + (b[i] if i < len(b) else 0.0) for i in range(n))


def parse_histogram(text: str) -> Histogram:
    """One ``{{...}}`` literal."""
    t = text.strip()
    if not (t.startswith("{{") and t.endswith("}}")):
        raise HistogramError(f"bad histogram {text!r}")
    body = t[2:-2]
    values: dict[str, list[str]] = {}
    i = 0
    while i < len(body):
        if body[i].isspace():
            i += 1
            continue
        colon = body.find(":", i)
        if colon < 0:
            raise HistogramError(f"bad histogram {text!r}")
        key = body[i:colon].strip()
        j = colon + 1
        if j < len(body) and body[j] == "[":
            end = body.find("]", j)
            if end < 0:
                raise HistogramError(f"bad histogram {text!r}")
            raw = body[j + 1 : end].split()
            j = end + 1
        else:
            end = j
            while end < len(body) and not body[end].isspace():
                end += 1
            raw = [body[j:end]]
            j = end
        values[key] = raw
        i = j
    h: dict[str, object] = {}
    try:
        for key, raw in values.items():
            assert isinstance(raw, list)
            if key in _INT_FIELDS:
                h[key] = int(raw[0])
            elif key in _FLOAT_FIELDS:
                h[key] = float(raw[0])
            elif key in _LIST_FIELDS:
                h[key] = tuple(float(x) for x in raw)
            elif key == "counter_reset_hint":
                h["hint"] = raw[0]
            else:
                raise HistogramError(f"unknown histogram field {key!r}")
    except ValueError as exc:
        raise HistogramError(f"bad histogram {text!r}: {exc}") from None
    return Histogram(**h)  # type: ignore[arg-type]


def canonical(text: str) -> str:
    return str(parse_histogram(text))


def _split_items(text: str) -> list[str]:
    """Whitespace-separated items, keeping ``{{...}}`` literals whole."""
    items: list[str] = []
    cur = ""
    depth = 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch.isspace() and depth == 0:
            if cur:
                items.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        items.append(cur)
    return items


def parse_histogram_values(text: str) -> list[Histogram | str | None]:
    """Expand a values string: histograms, ``_`` (missing) and ``stale``."""
    out: list[Histogram | str | None] = []
    for item in _split_items(text):
        if item == "_":
            out.append(None)
        elif item == "stale":
            out.append("stale")
        elif item.startswith("{{"):
            close = item.find("}}") + 2
            base = parse_histogram(item[:close])
            rest = item[close:]
            if not rest:
                out.append(base)
                continue
            inc: Histogram | None = None
            sign = 1
            if rest[0] in "+-":
                sign = 1 if rest[0] == "+" else -1
                close2 = rest.find("}}") + 2
                inc = parse_histogram(rest[1:close2])
                rest = rest[close2:]
            if not rest.startswith("x"):
                raise HistogramError(f"bad histogram series value {item!r}")
            times = int(rest[1:])
            cur = base
            for _ in range(times + 1):
                out.append(cur)
                if inc is not None:
                    cur = cur.add(inc) if sign > 0 else cur.sub(inc)
        else:
            raise HistogramError(f"bad histogram series value {item!r}")
    return out


@dataclass
class HistogramStore:
    series: dict[Labels, list[tuple[int, Histogram | None]]] = field(default_factory=dict)

    def load(self, labels: Labels, values: str, start_ms: int, interval_ms: int) -> None:
        samples: list[tuple[int, Histogram | None]] = []
        prev: Histogram | None = None
        for i, v in enumerate(parse_histogram_values(values)):
            if v is None:
                continue
            t = start_ms + i * interval_ms
            if v == "stale":
                samples.append((t, None))
                prev = None
                continue
            assert isinstance(v, Histogram)
            hint = v.hint
            if not hint:
                # As chunk encoding records it: the first sample's hint is unknown.
                hint = "" if prev is None else ("reset" if v.is_reset_from(prev) else "not_reset")
            h = replace(v, hint=hint)
            samples.append((t, h))
            prev = v
        self.series[labels] = samples

    def instant(self, expr: str, t_ms: int, lookback_ms: int) -> list[tuple[Labels, str]]:
        """Histogram samples a bare selector returns at ``t_ms``."""
        if not self.series:
            return []
        node = parse_expr(expr)
        if not isinstance(node, VectorSelector):
            return []
        if node.offset_ms or node.at_ms is not None:
            return []
        out: list[tuple[Labels, str]] = []
        for lbls, samples in self.series.items():
            if not all(m.matches_labels(lbls) for m in node.matchers):
                continue
            found: Histogram | None = None
            for ts, h in samples:
                if t_ms - lookback_ms < ts <= t_ms:
                    found = h
                elif ts > t_ms:
                    break
            if found is not None:
                out.append((lbls, str(found)))
        return out


def drop_name(lbls: Labels) -> Labels:
    return tuple(p for p in lbls if p[0] != METRIC_NAME)
