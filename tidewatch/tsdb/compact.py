"""Compaction planning and merging, following Prometheus's leveled scheme.

Blocks are merged into ranges that grow by 3x (2h -> 6h -> 18h ...) up to a tenth of
the retention (at most 31 days). Overlapping blocks (from backfill or out-of-order
data) are merged first, whatever their size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tidewatch.labels import Labels
from tidewatch.tsdb.block import Block, BlockMeta, write_block
from tidewatch.tsdb.columns import sort_samples
from tidewatch.tsdb.encoding import F64, I64

MAX_RANGE_MS = 31 * 24 * 3600 * 1000


def compaction_ranges(block_duration: int, retention_ms: int) -> list[int]:
    limit = MAX_RANGE_MS
    if retention_ms > 0:
        limit = min(limit, retention_ms // 10)
    ranges = [block_duration]
    while ranges[-1] * 3 <= limit:
        ranges.append(ranges[-1] * 3)
    return ranges


def plan(metas: Sequence[BlockMeta], ranges: Sequence[int]) -> list[BlockMeta]:
    """The next group of blocks to merge, or an empty list."""
    metas = sorted(metas, key=lambda m: (m.min_time, m.max_time))
    # 1. Overlapping blocks: merge every chain of overlaps.
    group: list[BlockMeta] = []
    group_end = None
    for m in metas:
        if group_end is not None and m.min_time < group_end:
            group.append(m)
            group_end = max(group_end, m.max_time)
            continue
        if len(group) > 1:
            return group
        group, group_end = [m], m.max_time
    if len(group) > 1:
        return group
    # 2. Leveled: fill each bigger range from blocks that fit in it, never touching the
    #    newest block (fresh from the head) or a window that may still receive blocks.
    if len(metas) < 2:
        return []
    newest_min = metas[-1].min_time
    candidates = metas[:-1]
    for rng in ranges[1:]:
        buckets: dict[int, list[BlockMeta]] = {}
        for m in candidates:
            k = m.min_time // rng
            if m.max_time <= (k + 1) * rng:
                buckets.setdefault(k, []).append(m)
        for k in sorted(buckets):
            members = buckets[k]
            window_end = (k + 1) * rng
            span = max(m.max_time for m in members) - min(m.min_time for m in members)
            if len(members) > 1 and (window_end <= newest_min or span >= rng):
                return members
    return []


def read_all(block: Block) -> tuple[list[Labels], I64, I64, F64]:
    ids, ts, vals = block.run.decode_all()
    return block.labels, ids, ts, vals


def merge(
    blocks: Sequence[Block], parent: Path, extra: Sequence[tuple[list[Labels], I64, I64, F64]] = ()
) -> BlockMeta:
    """Write one block holding every sample of ``blocks`` (earlier blocks win duplicates)."""
    parts = [read_all(b) for b in sorted(blocks, key=lambda b: b.meta.min_time)] + list(extra)
    all_labels = sorted({lbls for p in parts for lbls in p[0]})
    index = {lbls: i for i, lbls in enumerate(all_labels)}
    ids_parts, ts_parts, val_parts = [], [], []
    for labels, ids, ts, vals in parts:
        mapping = np.array([index[lbls] for lbls in labels], dtype=np.int64)
        ids_parts.append(mapping[ids] if len(ids) else ids)
        ts_parts.append(ts)
        val_parts.append(vals)
    ids, ts, vals = sort_samples(
        np.concatenate(ids_parts), np.concatenate(ts_parts), np.concatenate(val_parts)
    )
    metas = [b.meta for b in blocks]
    sources = sorted({s for m in metas for s in (m.sources or [m.ulid])})
    return write_block(
        parent,
        all_labels,
        ids,
        ts,
        vals,
        min_time=min(m.min_time for m in metas),
        max_time=max(m.max_time for m in metas),
        level=max(m.level for m in metas) + 1,
        sources=sources,
    )
