"""``index/volume`` and ``index/volume_range`` aggregation, as Loki's volume API answers.

Volumes are bytes of log lines per stream, summed per aggregation key: the query's
label names (or ``targetLabels``), or per label name with ``aggregateBy=labels``.
``volume_range`` splits the range at multiples of ``step`` (the first bucket starts at
``start``) and gives every series one point per bucket it has bytes in, stamped with the
bucket's end (1 ms before the next bucket, or the range end), like Loki's volume
middleware; each bucket keeps its own top ``limit``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tidewatch.labels import Labels
from tidewatch.logs.logql.store import StreamChunk
from tidewatch.matcher import Matcher

MS = 1_000_000


def aggregate(
    rows: Iterable[tuple[Labels, int]],
    matchers: Sequence[Matcher],
    target_labels: Sequence[str],
    by_labels: bool,
    limit: int,
) -> list[tuple[Labels, int]]:
    """Stream volumes summed per aggregation key, largest first, the top ``limit``."""
    names = list(target_labels) or list(dict.fromkeys(m.name for m in matchers))
    totals: dict[Labels, int] = {}
    for lb, nbytes in rows:
        d = dict(lb)
        if by_labels:
            for k in names or list(d):
                if k in d:
                    key: Labels = ((k, d[k]),) if target_labels else ((k, ""),)
                    totals[key] = totals.get(key, 0) + nbytes
            continue
        key = tuple((k, d[k]) for k in sorted(names) if k in d)
        totals[key] = totals.get(key, 0) + nbytes
    out = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return out[:limit] if limit > 0 else out


def buckets(start_ns: int, end_ns: int, step_ns: int) -> tuple[list[int], list[int]]:
    """(bucket lower bounds, point timestamps) for ``[start, end]`` split by ``step``."""
    lows: list[int] = []
    stamps: list[int] = []
    s = start_ns - start_ns % step_ns
    while s < end_ns:
        nxt = s + step_ns
        stamps.append(end_ns if nxt >= end_ns else nxt - MS)
        lows.append(max(s, start_ns))
        s = nxt
    if not lows:
        lows, stamps = [start_ns], [end_ns]
    return lows, stamps


def bytes_per_bucket(
    chunks: Iterable[StreamChunk], lows: Sequence[int]
) -> dict[Labels, np.ndarray[Any, np.dtype[np.int64]]]:
    """Line bytes per stream per bucket, in one pass over the entries."""
    bounds = np.asarray(lows, dtype=np.int64)
    out: dict[Labels, np.ndarray[Any, np.dtype[np.int64]]] = {}
    for c in chunks:
        if not c.lines:
            continue
        idx = np.searchsorted(bounds, c.ts, side="right") - 1
        sizes = np.fromiter(map(len, c.lines), np.int64, len(c.lines))
        ok = idx >= 0
        per = np.bincount(idx[ok], weights=sizes[ok], minlength=len(lows)).astype(np.int64)
        acc = out.get(c.labels)
        out[c.labels] = per if acc is None else acc + per
    return out


def volume_matrix(
    per_stream: dict[Labels, np.ndarray[Any, np.dtype[np.int64]]],
    stamps: Sequence[int],
    matchers: Sequence[Matcher],
    target_labels: Sequence[str],
    by_labels: bool,
    limit: int,
) -> list[dict[str, Any]]:
    """The ``result`` of a ``volume_range`` answer (Loki's matrix order: by first value,
    largest first, then by name)."""
    series: dict[Labels, list[tuple[int, int]]] = {}
    for i, t in enumerate(stamps):
        rows = [(lb, int(v[i])) for lb, v in per_stream.items() if v[i] > 0]
        for key, total in aggregate(rows, matchers, target_labels, by_labels, limit):
            series.setdefault(key, []).append((t, total))
    ordered = sorted(series.items(), key=lambda kv: (-kv[1][0][1], kv[0]))
    return [
        {"metric": dict(key), "values": [[_seconds(t), str(v)] for t, v in points]}
        for key, points in ordered
    ]


def _seconds(t_ns: int) -> float | int:
    ms = t_ns // MS
    return ms // 1000 if ms % 1000 == 0 else ms / 1000
