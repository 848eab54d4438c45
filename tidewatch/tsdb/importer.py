"""Backfill: turn an OpenMetrics file into blocks, as
``promtool tsdb create-blocks-from openmetrics`` does.

Samples are grouped into block-duration ranges (2h by default) and each range is
written straight to a block, bypassing the head and the WAL; a running TSDB picks
the blocks up on its next start and compaction merges any that overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tidewatch.labels import Labels
from tidewatch.tsdb.block import write_block
from tidewatch.tsdb.columns import sort_samples

Progress = Callable[[str, float], None]
DEFAULT_BLOCK_MS = 2 * 3600 * 1000


class BackfillError(ValueError):
    """The input cannot be imported (malformed, or samples without timestamps)."""


@dataclass
class ImportStats:
    samples: int = 0
    series: int = 0
    blocks: list[str] = field(default_factory=list)  # ULIDs written
    min_time: int = 0
    max_time: int = 0


def import_openmetrics(
    path: str,
    data_dir: str,
    progress: Progress | None = None,
    block_duration_ms: int = DEFAULT_BLOCK_MS,
) -> ImportStats:
    from tidewatch.ingest.exposition import iter_samples

    body = Path(path).read_bytes()
    if progress:
        progress("parse", 0.0)
    index: dict[Labels, int] = {}
    ids: list[int] = []
    times: list[int] = []
    values: list[float] = []
    for lbls, ts, value in iter_samples(body, True):
        if ts is None:
            raise BackfillError(f"sample without a timestamp: {lbls}")
        sid = index.get(lbls)
        if sid is None:
            sid = index[lbls] = len(index)
        ids.append(sid)
        times.append(ts)
        values.append(value)
    if progress:
        progress("parse", 1.0)
    stats = ImportStats(samples=0, series=len(index))
    if not ids:
        return stats
    all_ids = np.array(ids, np.int64)
    all_ts = np.array(times, np.int64)
    all_vals = np.array(values, np.float64)
    labels_by_id = list(index)
    out = Path(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    ranges = all_ts // block_duration_ms
    todo = np.unique(ranges).tolist()
    for n, rng in enumerate(todo):
        sel = ranges == rng
        rid, rts, rvals = sort_samples(all_ids[sel], all_ts[sel], all_vals[sel])
        present = np.unique(rid)
        labels = sorted(labels_by_id[i] for i in present.tolist())
        pos = {lbls: i for i, lbls in enumerate(labels)}
        lut = np.array([pos[labels_by_id[i]] for i in present.tolist()], np.int64)
        local = lut[np.searchsorted(present, rid)]
        local, rts, rvals = sort_samples(local, rts, rvals, dedup=False)
        meta = write_block(out, labels, local, rts, rvals, int(rts.min()), int(rts.max()) + 1)
        stats.blocks.append(meta.ulid)
        stats.samples += len(rts)
        if progress:
            progress("write blocks", (n + 1) / len(todo))
    stats.min_time = int(all_ts.min())
    stats.max_time = int(all_ts.max())
    return stats
