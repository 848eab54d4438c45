"""Shared test helpers for the tsdb tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tidewatch.labels import Labels, from_dict
from tidewatch.matcher import Matcher, MatchType
from tidewatch.tsdb import TSDB, TSDBOptions
from tidewatch.tsdb.interface import Series

HOUR = 3600 * 1000
T0 = 1_700_000_000_000


def lbl(name: str, **kw: str) -> Labels:
    return from_dict({"__name__": name, **kw})


def eq(name: str, value: str) -> Matcher:
    return Matcher(MatchType.EQUAL, name, value)


def fill(
    db: TSDB, series: list[Labels], start: int, steps: int, interval: int = 15000
) -> dict[Labels, list[tuple[int, float]]]:
    """Append ``steps`` scrapes of every series; returns what was written."""
    written: dict[Labels, list[tuple[int, float]]] = {s: [] for s in series}
    refs = [0] * len(series)
    app = db.appender()
    for step in range(steps):
        for i, s in enumerate(series):
            t = start + step * interval + i
            v = float(step * (i + 1))
            refs[i] = app.append(refs[i], s, t, v)
            written[s].append((t, v))
        stats = app.commit()
        assert stats.samples == len(series), stats
    return written


def select_all(db: TSDB, name: str, mint: int = 0, maxt: int = 2**62) -> list[Series]:
    q = db.querier()
    try:
        return q.select([eq("__name__", name)], mint, maxt)
    finally:
        q.close()


def as_dict(series: list[Series]) -> dict[Labels, list[tuple[int, float]]]:
    return {s.labels: list(zip(s.ts.tolist(), s.values.tolist(), strict=True)) for s in series}


def same_series(a: list[Series], b: list[Series]) -> bool:
    if [s.labels for s in a] != [s.labels for s in b]:
        return False
    return all(
        np.array_equal(x.ts, y.ts)
        and np.array_equal(x.values.view(np.uint64), y.values.view(np.uint64))
        for x, y in zip(a, b, strict=True)
    )


def open_db(path: Path, **kw: int) -> TSDB:
    opts = TSDBOptions(**kw)
    return TSDB.open(str(path), opts)
