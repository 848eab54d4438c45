"""The head: recent samples in memory, appended in batches.

Committed samples land in a columnar append buffer (ids, times, values). When it is
full it is frozen (still readable) and later *sealed* off the append path (by the
TSDB's background thread): sorted by (series, time) and compressed into
:class:`Run` s, one per block range, so a head cut hands whole runs to the block
writer. Small runs are merged into bigger ones, which compress better. Per-series
state needed for the ordering checks (last time and value bits) lives in numpy
arrays indexed by series ref, so a commit checks the whole batch with array ops.

Callers hold ``Head.lock`` around every method (the TSDB does).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher
from tidewatch.tsdb.columns import Run, build_run, sort_samples
from tidewatch.tsdb.encoding import F64, I64
from tidewatch.tsdb.interface import AppendStats, Exemplar
from tidewatch.tsdb.postings import Postings

INT64_MIN = np.iinfo(np.int64).min
INT64_MAX = np.iinfo(np.int64).max
HEAD_FRAME = 4096
MIN_BUFFER = 1 << 15
MAX_BUFFER = 1 << 22
MAX_EXEMPLARS_PER_SERIES = 16
MAX_ERRORS_REPORTED = 8
MAX_FROZEN = 4  # full buffers kept unsealed before a commit seals them itself
MERGE_FANIN = 4  # head runs of one tier and block range merged together


@dataclass
class HeadCounters:
    samples_appended: int = 0
    out_of_order: int = 0
    out_of_bounds: int = 0
    duplicates: int = 0
    series_created: int = 0
    series_removed: int = 0
    chunks_created: int = 0


@dataclass
class Batch:
    refs: I64
    ts: I64
    vals: F64
    labels: list[Labels] = field(default_factory=list)  # per sample; used only for stale refs


class Head:
    def __init__(self, block_duration_ms: int, ooo_window_ms: int) -> None:
        self.lock = threading.RLock()
        self.block_duration = block_duration_ms
        self.ooo_window = ooo_window_ms
        self.by_labels: dict[Labels, int] = {}
        self.labels_of: dict[int, Labels] = {}
        self.postings = Postings()
        self.next_ref = 1
        cap = 1024
        self.alive = np.zeros(cap, bool)
        self.logged = np.zeros(cap, bool)
        self.last_ts = np.full(cap, INT64_MIN, np.int64)
        self.last_bits = np.zeros(cap, np.uint64)
        self.runs: list[Run] = []
        self.buf_cap = MIN_BUFFER
        self.buf_ids = np.empty(self.buf_cap, np.int64)
        self.buf_ts = np.empty(self.buf_cap, np.int64)
        self.buf_vals = np.empty(self.buf_cap, np.float64)
        self.buf_n = 0
        self.frozen: list[tuple[I64, I64, F64]] = []  # full buffers awaiting compression
        self.mint = int(INT64_MAX)
        self.maxt = int(INT64_MIN)
        self.min_valid_time = int(INT64_MIN)  # end of the newest block cut from the head
        self.counters = HeadCounters()
        self.exemplars: dict[int, list[Exemplar]] = {}
        self.exemplar_count = 0

    # -- series --------------------------------------------------------------------
    def _grow(self, ref: int) -> None:
        cap = len(self.alive)
        if ref < cap:
            return
        new = max(cap * 2, ref + 1)
        self.alive = np.concatenate([self.alive, np.zeros(new - cap, bool)])
        self.logged = np.concatenate([self.logged, np.zeros(new - cap, bool)])
        self.last_ts = np.concatenate([self.last_ts, np.full(new - cap, INT64_MIN, np.int64)])
        self.last_bits = np.concatenate([self.last_bits, np.zeros(new - cap, np.uint64)])

    def get_or_create(self, lbls: Labels, ref: int = 0) -> int:
        """Ref of ``lbls``, creating the series (with ``ref`` if given, as WAL replay does)."""
        found = self.by_labels.get(lbls)
        if found is not None:
            return found
        if ref <= 0 or (ref < self.next_ref and self.alive[ref]):
            ref = self.next_ref
        self.next_ref = max(self.next_ref, ref + 1)
        self._grow(ref)
        self.by_labels[lbls] = ref
        self.labels_of[ref] = lbls
        self.alive[ref] = True
        self.logged[ref] = False
        self.last_ts[ref] = INT64_MIN
        self.postings.add(ref, lbls)
        self.counters.series_created += 1
        return ref

    def series_count(self) -> int:
        return len(self.labels_of)

    def valid_ref(self, ref: int) -> bool:
        return 0 < ref < len(self.alive) and bool(self.alive[ref])

    def unlogged(self, refs: I64) -> list[tuple[int, Labels]]:
        """Series in ``refs`` without a WAL series record yet; marks them logged."""
        pending = np.unique(refs[~self.logged[refs]])
        if len(pending) == 0:
            return []
        self.logged[pending] = True
        return [(int(r), self.labels_of[int(r)]) for r in pending]

    def all_series(self) -> list[tuple[int, Labels]]:
        return sorted(self.labels_of.items())

    # -- appending -----------------------------------------------------------------
    def resolve(self, batch: Batch) -> None:
        """Replace refs of series that no longer exist (or were never given) via labels."""
        refs = batch.refs
        inside = (refs > 0) & (refs < len(self.alive))
        bad = ~inside
        bad[inside] = ~self.alive[refs[inside]]
        for i in np.flatnonzero(bad).tolist():
            refs[i] = self.get_or_create(batch.labels[i])

    def check(
        self, batch: Batch, replay: bool = False
    ) -> tuple[npt.NDArray[np.bool_], AppendStats]:
        """Which samples of ``batch`` to keep, with Prometheus's rejections counted."""
        refs, ts = batch.refs, batch.ts
        bits = batch.vals.view(np.uint64)
        n = len(refs)
        stats = AppendStats()
        empty = self.maxt == INT64_MIN
        if replay or empty:
            min_valid = self.min_valid_time
        else:
            min_valid = max(self.min_valid_time, self.maxt - self.block_duration // 2)
        ooo_on = replay or self.ooo_window > 0
        ooo_min = self.min_valid_time
        if not replay and not empty:
            ooo_min = max(ooo_min, self.maxt - self.ooo_window)

        order = np.argsort(refs, kind="stable")
        r, t, b = refs[order], ts[order], bits[order]
        prev = self.last_ts[r]
        first = np.ones(n, bool)
        first[1:] = r[1:] != r[:-1]
        if not first.all():
            prev = np.maximum(prev, _segment_running_max_exclusive(t, first))
        gt = t > prev
        eq = t == prev
        in_window = (t >= ooo_min) if ooo_on else np.zeros(n, bool)
        oob = (t < min_valid) & ~in_window
        accept = gt & ~oob
        accept |= (t < prev) & in_window
        ooo_err = (t < prev) & ~in_window & ~oob
        # Equal timestamps: same value is a silently ignored duplicate, another is an error.
        dup_err = np.zeros(n, bool)
        for i in np.flatnonzero(eq & ~oob).tolist():
            ref_bits = self.last_bits[r[i]]
            j = i - 1
            while j >= 0 and r[j] == r[i]:
                if t[j] == t[i] and accept[j]:
                    ref_bits = b[j]
                    break
                j -= 1
            if ref_bits != b[i] and not replay:
                dup_err[i] = True
        stats.out_of_bounds = int(oob.sum())
        stats.out_of_order = int(ooo_err.sum())
        stats.duplicates = int(dup_err.sum())
        for kind, mask in (
            ("out of bounds", oob),
            ("out of order sample", ooo_err),
            ("duplicate sample for timestamp", dup_err),
        ):
            for i in np.flatnonzero(mask)[:MAX_ERRORS_REPORTED].tolist():
                lbls = self.labels_of.get(int(r[i]), ())
                stats.errors.append(f"{kind}: series {_fmt(lbls)} at {int(t[i])}")
        # New per-series last sample: the last in-order accepted one of each series.
        inorder = np.flatnonzero(accept & gt)
        if len(inorder):
            rr = r[inorder]
            last = np.ones(len(rr), bool)
            last[:-1] = rr[1:] != rr[:-1]
            pick = inorder[last]
            self.last_ts[r[pick]] = t[pick]
            self.last_bits[r[pick]] = b[pick]
        keep = np.zeros(n, bool)
        keep[order[accept]] = True
        stats.samples = int(accept.sum())
        return keep, stats

    def insert(self, refs: I64, ts: I64, vals: F64) -> None:
        """Add accepted samples (already checked) to the append buffer."""
        n = len(refs)
        if n == 0:
            return
        self.mint = min(self.mint, int(ts.min()))
        self.maxt = max(self.maxt, int(ts.max()))
        self.counters.samples_appended += n
        pos = 0
        while pos < n:
            room = self.buf_cap - self.buf_n
            take = min(room, n - pos)
            lo, hi = self.buf_n, self.buf_n + take
            self.buf_ids[lo:hi] = refs[pos : pos + take]
            self.buf_ts[lo:hi] = ts[pos : pos + take]
            self.buf_vals[lo:hi] = vals[pos : pos + take]
            self.buf_n = hi
            pos += take
            if self.buf_n == self.buf_cap:
                self._freeze()

    def _freeze(self) -> None:
        """Retire the full buffer to ``frozen`` (still readable) and start a new one.
        Buffers are never written below ``buf_n`` again, so readers may use views."""
        n = self.buf_n
        if n:
            self.frozen.append((self.buf_ids[:n], self.buf_ts[:n], self.buf_vals[:n]))
        # Size the buffer to the series count so it holds ~16 samples per series.
        self.buf_cap = int(min(MAX_BUFFER, max(MIN_BUFFER, 16 * len(self.labels_of))))
        self.buf_ids = np.empty(self.buf_cap, np.int64)
        self.buf_ts = np.empty(self.buf_cap, np.int64)
        self.buf_vals = np.empty(self.buf_cap, np.float64)
        self.buf_n = 0
        if len(self.frozen) > MAX_FROZEN:
            self.seal()  # no background thread is keeping up: seal here

    def encode_buffer(self, buf: tuple[I64, I64, F64]) -> list[Run]:
        """Runs (one per block range) for a frozen buffer; needs no lock."""
        ids, ts, vals = sort_samples(*buf)
        ranges = ts // self.block_duration
        runs = []
        for rng in np.unique(ranges).tolist():
            sel = ranges == rng
            runs.append(build_run(ids[sel], ts[sel], vals[sel], HEAD_FRAME, presorted=True))
        return runs

    def add_sealed(self, runs: list[Run]) -> None:
        self.runs.extend(runs)
        self.counters.chunks_created += sum(len(r.ids) for r in runs)

    def seal(self) -> None:
        """Compress every buffer into runs now (before a head cut, or when behind)."""
        if self.buf_n:
            n = self.buf_n
            self.frozen.append((self.buf_ids[:n], self.buf_ts[:n], self.buf_vals[:n]))
            self.buf_ids = np.empty(self.buf_cap, np.int64)
            self.buf_ts = np.empty(self.buf_cap, np.int64)
            self.buf_vals = np.empty(self.buf_cap, np.float64)
            self.buf_n = 0
        frozen, self.frozen = self.frozen, []
        for buf in frozen:
            self.add_sealed(self.encode_buffer(buf))

    def buffers(self) -> list[tuple[I64, I64, F64]]:
        """Views of unsealed samples (frozen buffers and the live one), for readers."""
        n = self.buf_n
        live = [(self.buf_ids[:n], self.buf_ts[:n], self.buf_vals[:n])] if n else []
        return [*self.frozen, *live]

    def add_exemplar(self, ref: int, ex: Exemplar) -> bool:
        lst = self.exemplars.setdefault(ref, [])
        # Drop repeats and exemplars older than the newest one (as Prometheus does).
        if lst and ex.ts != 0 and (lst[-1] == ex or ex.ts < lst[-1].ts):
            return False
        lst.append(ex)
        self.exemplar_count += 1
        if len(lst) > MAX_EXEMPLARS_PER_SERIES:
            del lst[0]
            self.exemplar_count -= 1
        return True

    # -- reading -------------------------------------------------------------------
    def select_refs(self, matchers: Sequence[Matcher]) -> I64:
        return self.postings.select(matchers)

    def runs_to_merge(self) -> list[Run]:
        """Small runs worth merging: each seal holds only ~16 samples per series, which
        compresses poorly and costs index space, so merge MERGE_FANIN of a tier into one."""
        groups: dict[tuple[int, int], list[Run]] = {}
        for run in self.runs:
            key = (run.mint // self.block_duration, run.tier)
            group = groups.setdefault(key, [])
            group.append(run)
            if len(group) == MERGE_FANIN:
                return group
        return []

    def replace_runs(self, old: list[Run], new: Run) -> bool:
        """Swap merged runs for their merge, unless a head cut took them meanwhile."""
        ids = {id(r) for r in old}
        positions = [i for i, r in enumerate(self.runs) if id(r) in ids]
        if len(positions) != len(old):
            return False
        kept = [r for r in self.runs if id(r) not in ids]
        kept.insert(positions[0], new)
        self.runs = kept
        return True

    def num_chunks(self) -> int:
        return sum(len(r.ids) for r in self.runs) + len(self.buffers())

    # -- cutting -------------------------------------------------------------------
    def range_to_cut(self) -> tuple[int, int] | None:
        """The oldest block range once the head spans 1.5 block durations, as Prometheus."""
        if self.maxt == INT64_MIN:
            return None
        start = (self.mint // self.block_duration) * self.block_duration
        if self.maxt - start < self.block_duration * 3 // 2:
            return None
        return start, start + self.block_duration

    def take_range(self, start: int, end: int) -> list[Run]:
        """Seal, then the runs holding samples in [start, end). From now on samples
        before ``end`` are out of bounds, so nothing new lands in the range being cut."""
        self.seal()
        self.min_valid_time = max(self.min_valid_time, end)
        return [r for r in self.runs if start <= r.mint and r.maxt < end]

    def drop_before(self, end: int) -> None:
        """Forget samples before ``end`` (now in a block) and series left without samples."""
        self.seal()
        self.runs = [r for r in self.runs if r.mint >= end]
        self.min_valid_time = max(self.min_valid_time, end)
        self.mint = min((r.mint for r in self.runs), default=int(INT64_MAX))
        self.gc_series()

    def gc_series(self) -> None:
        live = np.unique(np.concatenate([r.ids for r in self.runs] or [np.empty(0, np.int64)]))
        live_set = set(live.tolist())
        dead = [ref for ref in self.labels_of if ref not in live_set]
        if not dead:
            return
        for ref in dead:
            lbls = self.labels_of.pop(ref)
            self.by_labels.pop(lbls, None)
            self.exemplars.pop(ref, None)
        dead_arr = np.array(dead, np.int64)
        self.alive[dead_arr] = False
        self.logged[dead_arr] = False
        self.counters.series_removed += len(dead)
        self.postings = Postings.build(sorted(self.labels_of.items()))


def _segment_running_max_exclusive(t: I64, first: npt.NDArray[np.bool_]) -> I64:
    """For each position, the max of earlier ``t`` in its group (INT64_MIN for a group's first)."""
    n = len(t)
    group = np.cumsum(first) - 1
    lo = int(t.min())
    span = int(t.max()) - lo + 1
    ngroups = int(group[-1]) + 1
    out = np.full(n, INT64_MIN, np.int64)
    if span * ngroups < (1 << 62):
        key = group.astype(np.int64) * span + (t - lo)
        run = np.maximum.accumulate(key) - group.astype(np.int64) * span + lo
        out[1:] = run[:-1]
    else:  # enormous spans: fall back to a plain loop, still correct
        cur = INT64_MIN
        for i in range(n):
            if first[i]:
                cur = INT64_MIN
            out[i] = cur
            cur = max(cur, int(t[i]))
    out[first] = INT64_MIN
    return out


def _fmt(lbls: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in lbls) + "}"
