"""Query errors and annotations (warnings and infos) with Prometheus's wording."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from tidewatch.gofloat import format_float


class QueryError(Exception):
    """A failed query; ``error_type`` is the API's ``errorType``."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def execution_error(message: str) -> QueryError:
    return QueryError("execution", message)


def go_format_f(v: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: how the API renders sample values."""
    return format_float(v, "f")


def go_g(v: float) -> str:
    """Go's ``%g``/``%v`` for a float64, as Prometheus's messages print numbers."""
    return format_float(v, "g")


@dataclass
class Annotations:
    """Deduplicated by message, in insertion order; positions are start offsets."""

    items: dict[str, tuple[str, int]] = field(default_factory=dict)  # msg -> (kind, pos)

    def warn(self, message: str, pos: int) -> None:
        self.items.setdefault(f"PromQL warning: {message}", ("warn", pos))

    def info(self, message: str, pos: int) -> None:
        self.items.setdefault(f"PromQL info: {message}", ("info", pos))

    monotonic: dict[str, list[Any]] = field(default_factory=dict)

    def monotonicity(
        self, metric: str, pos: int, steps: Any, min_b: float, max_b: float, max_diff: float
    ) -> None:
        """histogram_quantile's forced-monotonicity info, merged across steps and groups."""
        msg = (
            "PromQL info: input to histogram_quantile needed to be fixed for monotonicity "
            "(see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)"
        )
        if metric:
            msg += f' for metric name "{metric}"'
        lo, hi, count = int(steps.min()), int(steps.max()), len(steps)
        cur = self.monotonic.get(msg)
        if cur is None:
            self.monotonic[msg] = [pos, lo, hi, min_b, max_b, max_diff, count]
            self.items.setdefault(msg, ("info", pos))
            return
        cur[1] = min(cur[1], lo)
        cur[2] = max(cur[2], hi)
        cur[3] = min(cur[3], min_b)
        cur[4] = max(cur[4], max_b)
        cur[5] = max(cur[5], max_diff)
        cur[6] += count

    def render(self, query: str) -> tuple[list[str], list[str]]:
        warnings: list[str] = []
        infos: list[str] = []
        for msg, (kind, pos) in self.items.items():
            text = msg
            if msg in self.monotonic:
                _, lo, hi, min_b, max_b, diff, count = self.monotonic[msg]
                text += (
                    f", from buckets {go_g(min_b)} to {go_g(max_b)}, with a max diff of "
                    f"{diff:.2g}, over {count} samples from {_rfc3339(lo)} to {_rfc3339(hi)}"
                )
            if query:
                text = f"{text} ({_line_col(query, pos)})"
            (warnings if kind == "warn" else infos).append(text)
        return warnings, infos


def _rfc3339(t_ms: int) -> str:
    secs = int(t_ms / 1000)
    return datetime.datetime.fromtimestamp(secs, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _line_col(query: str, pos: int) -> str:
    if pos < 0 or pos > len(query):
        return "invalid position"
    line = 1 + query.count("\n", 0, pos)
    last_nl = query.rfind("\n", 0, pos)
    return f"{line}:{pos - last_nl}"


def go_labels(lbls: tuple[tuple[str, str], ...]) -> str:
    """Go's ``labels.Labels.String()``: ``{a="1", b="2"}``, names always inside braces."""
    parts = []
    for k, v in lbls:
        name = k if _legacy_name(k) else _go_quote(k)
        parts.append(f"{name}={_go_quote(v)}")
    return "{" + ", ".join(parts) + "}"


def _legacy_name(name: str) -> bool:
    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] == "_")):
        return False
    return all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def _go_quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or 0xDC80 <= ord(ch) <= 0xDCFF:
            out.append(f"\\x{ord(ch) & 0xFF:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
