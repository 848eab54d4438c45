"""Reading across blocks and the head: one ``Querier`` per query.

Each call takes the block list and the head state together under the head lock (a
head cut moves data from the head to a new block atomically, so a read never sees
it in neither or misses it); decoding happens outside the lock. Blocks are immutable
and read through mmaps, so compaction or retention cannot pull them away mid-read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher
from tidewatch.tsdb.block import Block
from tidewatch.tsdb.columns import Run, sort_samples
from tidewatch.tsdb.encoding import F64, I64
from tidewatch.tsdb.head import Head
from tidewatch.tsdb.interface import Series

Parts = dict[Labels, list[tuple[I64, F64]]]


class EmptySelectorError(ValueError):
    pass


def _split(parts: Parts, ids: I64, ts: I64, vals: F64, label_of: Callable[[int], Labels]) -> None:
    """Append per-series slices of samples sorted by id to ``parts``."""
    if len(ids) == 0:
        return
    bounds = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = [0, *bounds.tolist()]
    ends = [*bounds.tolist(), len(ids)]
    id_list = ids[starts].tolist()
    for sid, lo, hi in zip(id_list, starts, ends, strict=True):
        parts.setdefault(label_of(sid), []).append((ts[lo:hi], vals[lo:hi]))


def _distinct_sorted(ids: I64) -> I64:
    """The distinct values of a sorted id column."""
    if len(ids) == 0:
        return ids
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    return ids[starts]


def _run_lengths(ids: I64) -> I64:
    """Lengths of the runs of equal values in a sorted id column."""
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    return np.diff(np.append(starts, len(ids)))


def _merge_columns(
    luts: list[I64], ids: list[I64], ts: list[I64], vals: list[F64], n_series: int
) -> tuple[I64, I64, F64]:
    """Merge sources (each sorted by its local id, then time) into one column set
    ordered by global series index, each series keeping its sources' order. ``luts[p]``
    maps source p's distinct local ids, ascending, to global indexes. Each run of a
    series is scattered to its place: O(samples), no sort."""
    lens = [_run_lengths(i) if len(i) else np.empty(0, np.int64) for i in ids]
    if len(luts) == 1 and (len(luts[0]) < 2 or bool((np.diff(luts[0]) > 0).all())):
        return np.repeat(luts[0], lens[0]), ts[0], vals[0]
    total = np.zeros(n_series, np.int64)
    for lut, ln in zip(luts, lens, strict=True):
        np.add.at(total, lut, ln)
    fill = np.cumsum(total) - total  # next free slot of each series
    size = int(total.sum())
    out_ts = np.empty(size, np.int64)
    out_vals = np.empty(size, np.float64)
    for lut, ln, t, v in zip(luts, lens, ts, vals, strict=True):
        if not len(t):
            continue
        src_start = np.cumsum(ln) - ln
        dest = np.repeat(fill[lut] - src_start, ln) + np.arange(len(t), dtype=np.int64)
        out_ts[dest] = t
        out_vals[dest] = v
        fill[lut] += ln
    return np.repeat(np.arange(n_series, dtype=np.int64), total), out_ts, out_vals


def _merge(chunks: list[tuple[I64, F64]]) -> tuple[I64, F64]:
    if len(chunks) == 1:
        return chunks[0]
    ts = np.concatenate([c[0] for c in chunks])
    vals = np.concatenate([c[1] for c in chunks])
    _, ts, vals = sort_samples(np.zeros(len(ts), np.int64), ts, vals)
    return ts, vals


class TSDBQuerier:
    def __init__(self, blocks: Callable[[], list[Block]], head: Head) -> None:
        self._blocks = blocks  # called with the head lock held
        self._head = head

    def _head_overlaps(self, mint: int, maxt: int) -> bool:
        h = self._head
        return h.mint <= maxt and mint <= h.maxt

    def _head_snapshot(
        self, matchers: Sequence[Matcher], mint: int, maxt: int
    ) -> tuple[list[Block], I64, list[Run], list[tuple[I64, I64, F64]], dict[int, Labels]]:
        h = self._head
        with h.lock:
            blocks = [b for b in self._blocks() if b.overlaps(mint, maxt)]
            refs = h.select_refs(matchers)
            runs = [r for r in h.runs if r.mint <= maxt and mint <= r.maxt]
            buffers = h.buffers()
            labels = {r: h.labels_of[r] for r in refs.tolist()}
        return blocks, refs, runs, buffers, labels

    @staticmethod
    def _from_buffers(
        buffers: list[tuple[I64, I64, F64]], refs: I64, mint: int, maxt: int
    ) -> list[tuple[I64, I64, F64]]:
        out = []
        for ids, t, vals in buffers:
            mask = (t >= mint) & (t <= maxt)
            mask &= np.isin(ids, refs)
            if mask.any():
                out.append((ids[mask], t[mask], vals[mask]))
        return out

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[Series]:
        if not matchers:
            raise EmptySelectorError("a selector needs at least one matcher")
        parts: Parts = {}
        blocks, refs, runs, buffers, labels = self._head_snapshot(matchers, mint, maxt)
        for b in blocks:
            ids = b.postings.select(matchers)
            if len(ids):
                sids, ts, vals = b.run.gather(ids, mint, maxt)
                _split(parts, sids, ts, vals, b.label_of)
        if len(refs):
            pieces = [r.gather(refs, mint, maxt) for r in runs]
            pieces = [p for p in pieces if len(p[0])]
            unsorted = self._from_buffers(buffers, refs, mint, maxt)
            pieces += unsorted
            if pieces:
                ids = np.concatenate([p[0] for p in pieces])
                ts = np.concatenate([p[1] for p in pieces])
                vals = np.concatenate([p[2] for p in pieces])
                if len(pieces) > 1 or unsorted:
                    ids, ts, vals = sort_samples(ids, ts, vals)
                _split(parts, ids, ts, vals, labels.__getitem__)
        out = []
        for lbls in sorted(parts):
            ts, vals = _merge(parts[lbls])
            out.append(Series(lbls, ts, vals))
        return out

    def select_columns(
        self, matchers: Sequence[Matcher], mint: int, maxt: int
    ) -> tuple[list[Labels], I64, I64, F64]:
        """``select`` as columns, for the query engine: ``(labels, series, ts, values)``
        where ``labels`` is sorted and sample i belongs to ``labels[series[i]]``; samples
        are ordered by series, then time, duplicates removed (the first source wins,
        as in ``select``). No per-series arrays are built."""
        if not matchers:
            raise EmptySelectorError("a selector needs at least one matcher")
        blocks, refs, runs, buffers, labels = self._head_snapshot(matchers, mint, maxt)
        # (labels of each distinct local id, local ids, ts, values), oldest source first.
        pieces: list[tuple[list[Labels], I64, I64, I64, F64]] = []
        for b in blocks:
            ids = b.postings.select(matchers)
            if len(ids):
                sids, ts, vals = b.run.gather(ids, mint, maxt)
                if len(sids):
                    uniq = _distinct_sorted(sids)
                    pieces.append(([b.label_of(i) for i in uniq.tolist()], uniq, sids, ts, vals))
        if len(refs):
            got = [r.gather(refs, mint, maxt) for r in runs]
            got = [p for p in got if len(p[0])]
            unsorted = self._from_buffers(buffers, refs, mint, maxt)
            got += unsorted
            if got:
                ids = np.concatenate([p[0] for p in got])
                ts = np.concatenate([p[1] for p in got])
                vals = np.concatenate([p[2] for p in got])
                if len(got) > 1 or unsorted:
                    ids, ts, vals = sort_samples(ids, ts, vals)
                uniq = _distinct_sorted(ids)
                pieces.append(([labels[i] for i in uniq.tolist()], uniq, ids, ts, vals))
        if not pieces:
            return [], np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
        all_labels = sorted({lbls for p in pieces for lbls in p[0]})
        pos = {lbls: i for i, lbls in enumerate(all_labels)}
        g, ts, vals = _merge_columns(
            [np.array([pos[lbls] for lbls in p[0]], np.int64) for p in pieces],
            [p[2] for p in pieces],
            [p[3] for p in pieces],
            [p[4] for p in pieces],
            len(all_labels),
        )
        if len(g) > 1:
            same = g[1:] == g[:-1]
            if bool((same & (ts[1:] <= ts[:-1])).any()):
                # Sources overlap in time (out-of-order data, overlapping blocks).
                g, ts, vals = sort_samples(g, ts, vals)
        return all_labels, g, ts, vals

    def series_labels(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[Labels]:
        found: set[Labels] = set()
        h = self._head
        with h.lock:
            blocks = [b for b in self._blocks() if b.overlaps(mint, maxt)]
            if self._head_overlaps(mint, maxt):
                found.update(h.labels_of[r] for r in h.select_refs(matchers).tolist())
        for b in blocks:
            found.update(b.label_of(i) for i in b.postings.select(matchers).tolist())
        return sorted(found)

    def label_names(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[str]:
        if matchers:
            return sorted({k for lbls in self.series_labels(matchers, mint, maxt) for k, _ in lbls})
        names: set[str] = set()
        h = self._head
        with h.lock:
            blocks = [b for b in self._blocks() if b.overlaps(mint, maxt)]
            if self._head_overlaps(mint, maxt):
                names.update(h.postings.index)
        for b in blocks:
            names.update(b.postings.index)
        return sorted(names)

    def label_values(
        self, name: str, matchers: Sequence[Matcher], mint: int, maxt: int
    ) -> list[str]:
        if matchers:
            values = set()
            for lbls in self.series_labels(matchers, mint, maxt):
                for k, v in lbls:
                    if k == name:
                        values.add(v)
            return sorted(values)
        found: set[str] = set()
        h = self._head
        with h.lock:
            blocks = [b for b in self._blocks() if b.overlaps(mint, maxt)]
            if self._head_overlaps(mint, maxt):
                found.update(h.postings.index.get(name, {}))
        for b in blocks:
            found.update(b.postings.index.get(name, {}))
        return sorted(found)

    def close(self) -> None:
        pass
