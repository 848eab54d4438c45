"""Immutable on-disk blocks: ``<ulid>/meta.json``, ``index`` and ``chunks``.

``chunks`` is one :class:`Run` (all series sorted by labels, each series' samples
consecutive, compressed in frames); ``index`` holds a symbol table, each series'
labels as symbol numbers, each series' sample offsets and the frame offsets. Label
sets are only built for series a query returns; postings come from the symbol arrays. A block is written under a temporary name,
fsynced, then renamed, so a crash never leaves half a block. Reads go through an
mmap, which stays valid even after retention deletes the directory.
"""

from __future__ import annotations

import mmap
import os
import secrets
import shutil
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from sys import intern
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import zstandard

from tidewatch.labels import Labels
from tidewatch.tsdb.columns import Run, encode_run_frames
from tidewatch.tsdb.encoding import F64, I64
from tidewatch.tsdb.postings import Postings

BLOCK_FRAME = 16384
BLOCK_LEVEL = 3
_MAGIC = b"TWBLK002"
_U64 = struct.Struct("<Q")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(ms: int | None = None) -> str:
    """A ULID (time-ordered id) as Prometheus names its blocks."""
    ms = int(time.time() * 1000) if ms is None else ms
    value = (ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


@dataclass
class BlockMeta:
    ulid: str
    min_time: int  # inclusive
    max_time: int  # exclusive, as Prometheus
    num_samples: int
    num_series: int
    num_chunks: int
    level: int = 1
    sources: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ulid": self.ulid,
            "minTime": self.min_time,
            "maxTime": self.max_time,
            "stats": {
                "numSamples": self.num_samples,
                "numSeries": self.num_series,
                "numChunks": self.num_chunks,
            },
            "compaction": {"level": self.level, "sources": self.sources or [self.ulid]},
            "version": 1,
            "tidewatch": {"format": _MAGIC.decode(), "frameSize": BLOCK_FRAME},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BlockMeta:
        st = d.get("stats", {})
        comp = d.get("compaction", {})
        return cls(
            ulid=d["ulid"],
            min_time=int(d["minTime"]),
            max_time=int(d["maxTime"]),
            num_samples=int(st.get("numSamples", 0)),
            num_series=int(st.get("numSeries", 0)),
            num_chunks=int(st.get("numChunks", 0)),
            level=int(comp.get("level", 1)),
            sources=list(comp.get("sources", [])),
        )


def _symbolize(labels: Sequence[Labels]) -> tuple[list[str], I64, npt.NDArray[np.int32]]:
    """A sorted symbol table and each series' labels as symbol numbers (name, value, ...)."""
    symbols = sorted({x for lbls in labels for pair in lbls for x in pair})
    number = {sym: i for i, sym in enumerate(symbols)}
    flat = [number[x] for lbls in labels for pair in lbls for x in pair]
    lens = [2 * len(lbls) for lbls in labels]
    series_offs = np.concatenate(([0], np.cumsum(lens, dtype=np.int64))).astype(np.int64)
    return symbols, series_offs, np.array(flat, dtype=np.int32)


def write_block(
    parent: Path,
    labels: Sequence[Labels],
    ids: I64,
    ts: I64,
    vals: F64,
    min_time: int,
    max_time: int,
    level: int = 1,
    sources: list[str] | None = None,
) -> BlockMeta:
    """Write a block. ``labels`` sorted; samples sorted by (id, time); ``id`` indexes labels."""
    ulid = new_ulid()
    tmp = parent / f"{ulid}.tmp"
    tmp.mkdir(parents=True)
    uniq, offs_present, frames = encode_run_frames(ids, ts, vals, BLOCK_FRAME, BLOCK_LEVEL)
    # Offsets for every label set (series without samples get an empty range).
    counts = np.zeros(len(labels), np.int64)
    counts[uniq] = np.diff(offs_present)
    offs = np.concatenate(([0], np.cumsum(counts))).astype("<i8")
    frame_offs = np.concatenate(([0], np.cumsum([len(f) for f in frames]))).astype("<i8")
    with open(tmp / "chunks", "wb") as f:
        for fr in frames:
            f.write(fr)
        f.flush()
        os.fsync(f.fileno())
    symbols, series_offs, series_syms = _symbolize(labels)
    symbols_json = orjson.dumps(symbols)
    body = b"".join(
        [
            _U64.pack(len(symbols_json)) + symbols_json,
            _U64.pack(len(labels)) + series_offs.astype("<i8").tobytes(),
            _U64.pack(len(series_syms)) + series_syms.astype("<i4").tobytes(),
            _U64.pack(len(labels)) + offs.tobytes(),
            _U64.pack(len(frames)) + frame_offs.tobytes(),
        ]
    )
    with open(tmp / "index", "wb") as f:
        f.write(_MAGIC + zstandard.ZstdCompressor(level=BLOCK_LEVEL).compress(body))
        f.flush()
        os.fsync(f.fileno())
    meta = BlockMeta(
        ulid=ulid,
        min_time=min_time,
        max_time=max_time,
        num_samples=len(ts),
        num_series=int((counts > 0).sum()),
        num_chunks=int((counts > 0).sum()),
        level=level,
        sources=sources or [ulid],
    )
    with open(tmp / "meta.json", "wb") as f:
        f.write(orjson.dumps(meta.to_json(), option=orjson.OPT_INDENT_2))
        f.flush()
        os.fsync(f.fileno())
    _fsync_path(tmp)
    os.replace(tmp, parent / ulid)
    _fsync_path(parent)
    return meta


class Block:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta = BlockMeta.from_json(orjson.loads((path / "meta.json").read_bytes()))
        with open(path / "index", "rb") as f:
            if f.read(len(_MAGIC)) != _MAGIC:
                raise ValueError(f"{path}: not a tidewatch block (Prometheus blocks need import)")
        self.size_bytes = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        self._lock = threading.Lock()
        self._symbols: list[str] = []
        self._series_offs = np.zeros(1, np.int64)
        self._series_syms = np.zeros(0, np.int32)
        self._label_cache: dict[int, Labels] = {}
        self._postings: Postings | None = None
        self._run: Run | None = None
        self._mm: mmap.mmap | None = None

    @property
    def ulid(self) -> str:
        return self.meta.ulid

    def _load(self) -> None:
        with self._lock:
            if self._run is not None:
                return
            try:
                data = (self.path / "index").read_bytes()
            except FileNotFoundError:
                # Deleted by retention before anyone read it: it holds nothing now.
                data = _empty_index()
            if data[:8] != _MAGIC:
                raise ValueError(f"{self.path}: not a tidewatch block index")
            data = zstandard.ZstdDecompressor().decompress(data[8:])
            pos = 0

            def array(dtype: str, extra: int) -> npt.NDArray[Any]:
                nonlocal pos
                (count,) = _U64.unpack_from(data, pos)
                pos += 8
                arr = np.frombuffer(data, dtype, count + extra, pos)
                pos += arr.nbytes
                return arr

            (n,) = _U64.unpack_from(data, pos)
            pos += 8
            symbols = orjson.loads(data[pos : pos + n])
            pos += n
            series_offs = array("<i8", 1).astype(np.int64)
            series_syms = array("<i4", 0).astype(np.int32)
            offs = array("<i8", 1).astype(np.int64)
            frame_offs = array("<i8", 1).astype(np.int64)
            nseries, nframes = len(offs) - 1, len(frame_offs) - 1
            try:
                with open(self.path / "chunks", "rb") as f:
                    if os.fstat(f.fileno()).st_size:
                        self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except FileNotFoundError:
                nseries, nframes, offs = 0, 0, np.zeros(1, np.int64)
            mm = self._mm
            fo = frame_offs.tolist()

            def frame_bytes(k: int) -> bytes:
                assert mm is not None
                return mm[fo[k] : fo[k + 1]]

            # Interned: the same names and values repeat across blocks and the head.
            self._symbols = [intern(x) for x in symbols]
            self._series_offs = series_offs
            self._series_syms = series_syms
            self._run = Run(
                ids=np.arange(nseries, dtype=np.int64),
                offs=offs,
                frame_size=BLOCK_FRAME,
                mint=self.meta.min_time,
                maxt=self.meta.max_time - 1,
                nframes=nframes,
                frame_bytes=frame_bytes,
            )

    def label_of(self, sid: int) -> Labels:
        """Label set of block series ``sid``, built on first use (most are never asked for)."""
        hit = self._label_cache.get(sid)
        if hit is not None:
            return hit
        self._load()
        syms = self._symbols
        row = self._series_syms[self._series_offs[sid] : self._series_offs[sid + 1]].tolist()
        lbls = tuple((syms[row[i]], syms[row[i + 1]]) for i in range(0, len(row), 2))
        self._label_cache[sid] = lbls
        return lbls

    @property
    def labels(self) -> list[Labels]:
        """Every label set, in series order (compaction reads them all)."""
        return [self.label_of(i) for i in range(len(self.run.ids))]

    @property
    def run(self) -> Run:
        self._load()
        assert self._run is not None
        return self._run

    @property
    def postings(self) -> Postings:
        if self._postings is None:
            p = self._build_postings()
            with self._lock:
                self._postings = p
        return self._postings

    def _build_postings(self) -> Postings:
        """Label pair -> series ids, straight from the symbol arrays (no label tuples)."""
        self._load()
        syms, offs = self._series_syms, self._series_offs
        nseries = len(offs) - 1
        pairs_per_series = np.diff(offs) // 2
        sids = np.repeat(np.arange(nseries, dtype=np.int64), pairs_per_series)
        names, values = syms[0::2], syms[1::2]
        order = np.lexsort((sids, values, names))
        names, values, sids = names[order], values[order], sids[order]
        index: dict[str, dict[str, I64]] = {}
        if len(sids):
            change = np.flatnonzero((names[1:] != names[:-1]) | (values[1:] != values[:-1])) + 1
            starts = [0, *change.tolist()]
            ends = [*change.tolist(), len(sids)]
            name_list = names[starts].tolist()
            value_list = values[starts].tolist()
            symbols = self._symbols
            for nm, vl, lo, hi in zip(name_list, value_list, starts, ends, strict=True):
                index.setdefault(symbols[nm], {})[symbols[vl]] = sids[lo:hi]
        return Postings.from_index(index, np.arange(nseries, dtype=np.int64))

    def overlaps(self, mint: int, maxt: int) -> bool:
        """Overlap with the inclusive range [mint, maxt]."""
        return self.meta.min_time <= maxt and mint < self.meta.max_time


def _empty_index() -> bytes:
    zero = _U64.pack(0) + np.zeros(1, "<i8").tobytes()
    body = _U64.pack(2) + b"[]" + zero + _U64.pack(0) + zero + zero
    return _MAGIC + zstandard.ZstdCompressor().compress(body)


def is_block_dir(p: Path) -> bool:
    return p.is_dir() and len(p.name) == 26 and (p / "meta.json").exists()


def delete_block_dir(p: Path) -> None:
    doomed = p.with_name(p.name + ".tmp-for-deletion")
    try:
        os.replace(p, doomed)  # atomic: a crash never leaves half a block that looks whole
    except FileNotFoundError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


def clean_leftovers(parent: Path) -> None:
    """Remove half-written or half-deleted block directories from a crash."""
    for p in parent.iterdir():
        if p.is_dir() and (p.name.endswith(".tmp") or p.name.endswith(".tmp-for-deletion")):
            shutil.rmtree(p, ignore_errors=True)


def _fsync_path(p: Path) -> None:
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
