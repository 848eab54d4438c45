"""Sample runs: the samples of many series, sorted by (series id, time), compressed in
frames of a fixed number of samples. The head seals its append buffer into runs and
a block's chunks file is one big run, so both are read by the same vectorised code.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tidewatch.tsdb.encoding import F64, I64, decode_frame, encode_frame

_run_ids = itertools.count(1)


class FrameCache:
    """A small LRU of decoded frames, shared by every run (dashboards re-read the same data)."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[tuple[int, int], tuple[I64, F64]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int]) -> tuple[I64, F64] | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple[int, int], value: tuple[I64, F64]) -> None:
        size = value[0].nbytes + value[1].nbytes
        if size > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, (t, v) = self._items.popitem(last=False)
                self._bytes -= t.nbytes + v.nbytes


FRAME_CACHE = FrameCache()


@dataclass
class Run:
    """Immutable. ``ids`` sorted unique; samples of ``ids[i]`` are ``offs[i]:offs[i+1]``."""

    ids: I64
    offs: I64
    frame_size: int
    mint: int  # inclusive
    maxt: int  # inclusive
    nframes: int
    frame_bytes: Callable[[int], bytes | memoryview]
    uid: int = 0
    tier: int = 0  # head runs: how many times merged (see Head.runs_to_merge)

    def __post_init__(self) -> None:
        if not self.uid:
            self.uid = next(_run_ids)

    @property
    def num_samples(self) -> int:
        return int(self.offs[-1]) if len(self.offs) else 0

    def frame(self, k: int) -> tuple[I64, F64]:
        key = (self.uid, k)
        hit = FRAME_CACHE.get(key)
        if hit is not None:
            return hit
        ts, values, _ = decode_frame(self.frame_bytes(k))
        FRAME_CACHE.put(key, (ts, values))
        return ts, values

    def decode_all(self) -> tuple[I64, I64, F64]:
        """Every sample as ``(ids, ts, values)``."""
        n = self.num_samples
        ids = np.repeat(self.ids, np.diff(self.offs))
        if n == 0:
            return ids, np.empty(0, np.int64), np.empty(0, np.float64)
        parts = [decode_frame(self.frame_bytes(k))[:2] for k in range(self.nframes)]
        return ids, np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def gather(self, sel: I64, mint: int, maxt: int) -> tuple[I64, I64, F64]:
        """Samples of the (sorted) ids in ``sel`` with time in [mint, maxt]."""
        empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
        if maxt < self.mint or mint > self.maxt or len(sel) == 0 or len(self.ids) == 0:
            return empty
        pos = np.searchsorted(self.ids, sel)
        ok = pos < len(self.ids)
        ok[ok] = self.ids[pos[ok]] == sel[ok]
        found = pos[ok]
        if len(found) == 0:
            return empty
        starts = self.offs[found]
        lens = self.offs[found + 1] - starts
        total = int(lens.sum())
        if total == 0:
            return empty
        span = self.maxt - self.mint + 1
        if min(maxt, self.maxt) - max(mint, self.mint) + 1 < span // 4:
            # A short window inside the run (instant queries, recent data): filter by
            # time on the decoded frames first, then build indexes for the hits only.
            return self._gather_window(found, starts, lens, mint, maxt)
        ends = starts + lens
        # Selected series usually sit next to each other (ids follow label order):
        # copy whole position ranges frame by frame instead of indexing per sample.
        joined = np.flatnonzero(starts[1:] != ends[:-1]) + 1
        if len(joined) < 64:
            range_starts = starts[np.concatenate(([0], joined))].tolist()
            range_ends = ends[np.concatenate((joined - 1, [len(ends) - 1]))].tolist()
            return self._gather_ranges(found, lens, range_starts, range_ends, total, mint, maxt)
        idx = np.repeat(starts - np.concatenate(([0], np.cumsum(lens)[:-1])), lens) + np.arange(
            total
        )
        out_ids = np.repeat(self.ids[found], lens)
        out_ts = np.empty(total, np.int64)
        out_vals = np.empty(total, np.float64)
        frame_of = idx // self.frame_size
        bounds = np.flatnonzero(np.diff(frame_of)) + 1
        lo = 0
        for hi in [*bounds.tolist(), total]:
            k = int(frame_of[lo])
            fts, fvals = self.frame(k)
            local = idx[lo:hi] - k * self.frame_size
            out_ts[lo:hi] = fts[local]
            out_vals[lo:hi] = fvals[local]
            lo = hi
        keep = (out_ts >= mint) & (out_ts <= maxt)
        if not keep.all():
            return out_ids[keep], out_ts[keep], out_vals[keep]
        return out_ids, out_ts, out_vals

    def _gather_ranges(
        self,
        found: I64,
        lens: I64,
        range_starts: list[int],
        range_ends: list[int],
        total: int,
        mint: int,
        maxt: int,
    ) -> tuple[I64, I64, F64]:
        """``gather`` of a few contiguous position ranges: slices of decoded frames."""
        fs = self.frame_size
        ts_parts: list[I64] = []
        val_parts: list[F64] = []
        for a, b in zip(range_starts, range_ends, strict=True):
            for k in range(a // fs, (b - 1) // fs + 1):
                fts, fvals = self.frame(k)
                lo, hi = max(a - k * fs, 0), min(b - k * fs, fs)
                ts_parts.append(fts[lo:hi])
                val_parts.append(fvals[lo:hi])
        out_ts = np.concatenate(ts_parts) if len(ts_parts) > 1 else ts_parts[0].copy()
        out_vals = np.concatenate(val_parts) if len(val_parts) > 1 else val_parts[0].copy()
        out_ids = np.repeat(self.ids[found], lens)
        if mint > self.mint or maxt < self.maxt:
            keep = (out_ts >= mint) & (out_ts <= maxt)
            if not keep.all():
                return out_ids[keep], out_ts[keep], out_vals[keep]
        return out_ids, out_ts, out_vals

    def _gather_window(
        self, found: I64, starts: I64, lens: I64, mint: int, maxt: int
    ) -> tuple[I64, I64, F64]:
        """``gather`` for a time window: one pass over the needed frames' times, then
        indexes and values for the samples inside the window only."""
        fs = self.frame_size
        nz = lens > 0
        s_starts, s_ends = starts[nz], (starts + lens)[nz]
        found = found[nz]
        cover = np.zeros(self.nframes + 1, np.int64)
        np.add.at(cover, s_starts // fs, 1)
        np.add.at(cover, (s_ends - 1) // fs + 1, -1)
        frames = np.flatnonzero(np.cumsum(cover[:-1]) > 0)
        decoded = [self.frame(k) for k in frames.tolist()]
        flen = np.array([len(d[0]) for d in decoded], np.int64)
        cstart = np.cumsum(flen) - flen  # where each needed frame starts in the concatenation
        tcat = np.concatenate([d[0] for d in decoded]) if len(decoded) > 1 else decoded[0][0]
        hit = tcat >= mint
        hit &= tcat <= maxt
        idx = np.flatnonzero(hit)
        if len(idx) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
        f = np.searchsorted(cstart, idx, side="right") - 1
        gpos = frames[f] * fs + (idx - cstart[f])
        owner = np.searchsorted(s_starts, gpos, side="right") - 1
        if len(found) < len(self.ids):
            # Frames also hold series that were not selected: keep the selected ones.
            mine = (owner >= 0) & (gpos < s_ends[np.maximum(owner, 0)])
            if not mine.all():
                idx, owner = idx[mine], owner[mine]
        vcat = np.concatenate([d[1] for d in decoded]) if len(decoded) > 1 else decoded[0][1]
        return self.ids[found[owner]], tcat[idx], vcat[idx]


def sort_samples(ids: I64, ts: I64, vals: F64, dedup: bool = True) -> tuple[I64, I64, F64]:
    """Sort by (id, time), stably; with ``dedup`` keep the first sample of equal (id, time)."""
    order = np.lexsort((ts, ids))
    ids, ts, vals = ids[order], ts[order], vals[order]
    if dedup and len(ids) > 1:
        keep = np.ones(len(ids), bool)
        keep[1:] = (ids[1:] != ids[:-1]) | (ts[1:] != ts[:-1])
        if not keep.all():
            ids, ts, vals = ids[keep], ts[keep], vals[keep]
    return ids, ts, vals


def encode_run_frames(
    ids: I64, ts: I64, vals: F64, frame_size: int, level: int
) -> tuple[I64, I64, list[bytes]]:
    """Frames for samples already sorted by (id, time): ``(unique ids, offsets, frames)``."""
    n = len(ids)
    if n == 0:
        return np.empty(0, np.int64), np.zeros(1, np.int64), []
    starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    uniq = ids[starts]
    offs = np.append(starts, n).astype(np.int64)
    frames: list[bytes] = []
    for lo in range(0, n, frame_size):
        hi = min(n, lo + frame_size)
        a, b = np.searchsorted(starts, [lo, hi])
        restarts = starts[a:b] - lo
        if len(restarts) == 0 or restarts[0] != 0:
            restarts = np.concatenate(([0], restarts))
        frames.append(encode_frame(ts[lo:hi], vals[lo:hi], restarts, level))
    return uniq, offs, frames


def build_run(
    ids: I64,
    ts: I64,
    vals: F64,
    frame_size: int,
    level: int = 1,
    presorted: bool = False,
    tier: int = 0,
) -> Run:
    """A run from samples in any order (sorted and de-duplicated here unless ``presorted``)."""
    if not presorted:
        ids, ts, vals = sort_samples(ids, ts, vals)
    uniq, offs, frames = encode_run_frames(ids, ts, vals, frame_size, level)
    return Run(
        ids=uniq,
        offs=offs,
        frame_size=frame_size,
        mint=int(ts.min()) if len(ts) else 0,
        maxt=int(ts.max()) if len(ts) else -1,
        nframes=len(frames),
        frame_bytes=frames.__getitem__,
        tier=tier,
    )
