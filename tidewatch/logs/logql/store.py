"""The narrow interface the LogQL engine reads logs through, and an in-memory store.

A log store yields, per stream whose labels match, the entries in a time range as a
:class:`StreamChunk`: timestamps (int64 ns, ascending), lines, and optional
per-entry structured metadata.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher, matches_all

I64 = npt.NDArray[np.int64]


@dataclass
class StreamChunk:
    labels: Labels
    ts: I64
    lines: list[str]
    metadata: list[Labels] | None = None  # one (possibly empty) label set per entry
    # How many of the query's leading line filters the reader already applied (exactly).
    filtered: int = 0


class LogReader(Protocol):
    def select(
        self, matchers: Sequence[Matcher], start_ns: int, end_ns: int
    ) -> Iterator[StreamChunk]:
        """Entries with ``start_ns <= ts < end_ns`` of every stream matching all ``matchers``.

        A reader whose ``accepts_line_filters`` is true also takes ``line_filters=``
        (the query's leading line filters) and may apply a prefix of them itself,
        saying how many in each chunk's ``filtered``."""
        ...


@dataclass
class _Stream:
    labels: Labels
    ts: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    metadata: list[Labels] = field(default_factory=list)
    has_metadata: bool = False
    sorted_ts: I64 | None = None
    order: npt.NDArray[np.intp] | None = None


class MemoryLogStore:
    """Streams kept in lists, sorted lazily on first read after a write."""

    def __init__(self) -> None:
        self._streams: dict[Labels, _Stream] = {}

    def clear(self) -> None:
        self._streams.clear()

    def push(self, labels: Labels, ts_ns: int, line: str, metadata: Labels = ()) -> None:
        if any(v == "" for _, v in labels):
            labels = tuple(
                (k, v) for k, v in labels if v != ""
            )  # as Loki: empty values are no labels
        st = self._streams.get(labels)
        if st is None:
            st = self._streams[labels] = _Stream(labels)
        st.ts.append(ts_ns)
        st.lines.append(line)
        st.metadata.append(metadata)
        st.has_metadata = st.has_metadata or bool(metadata)
        st.sorted_ts = None

    def streams(self) -> list[Labels]:
        return list(self._streams)

    def select(
        self, matchers: Sequence[Matcher], start_ns: int, end_ns: int
    ) -> Iterator[StreamChunk]:
        for labels, st in self._streams.items():
            if not matches_all(matchers, labels):
                continue
            if st.sorted_ts is None:
                ts = np.asarray(st.ts, dtype=np.int64)
                st.order = np.argsort(ts, kind="stable")
                st.sorted_ts = ts[st.order]
            assert st.order is not None
            lo = int(np.searchsorted(st.sorted_ts, start_ns, side="left"))
            hi = int(np.searchsorted(st.sorted_ts, end_ns, side="left"))
            if lo >= hi:
                continue
            idx = st.order[lo:hi].tolist()
            lines = [st.lines[i] for i in idx]
            meta = [st.metadata[i] for i in idx] if st.has_metadata else None
            yield StreamChunk(labels, st.sorted_ts[lo:hi], lines, meta)
