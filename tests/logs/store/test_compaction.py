"""Compaction: a stream's small chunks merged and recompressed, nothing lost or doubled."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from tidewatch.logs.push.decode import PushStream
from tidewatch.logs.store import LogStore, LogStoreOptions
from tidewatch.matcher import Matcher, MatchType

S = 1_000_000_000
NOW = time.time_ns() // S * S
ALL = [Matcher(MatchType.REGEX, "app", ".+")]


def opts() -> LogStoreOptions:
    return LogStoreOptions(
        ingestion_rate_mb=0,
        chunk_target_bytes=2_000,
        compact_target_bytes=20_000,
        chunk_segment_bytes=30_000,
    )


def content(store: LogStore) -> list[tuple[object, int, str]]:
    out = []
    for c in store.select(ALL, 0, NOW + S):
        out += [(c.labels, t, x) for t, x in zip(c.ts.tolist(), c.lines, strict=True)]
    return sorted(out, key=lambda e: (str(e[0]), e[1], e[2]))


def fill(store: LogStore) -> None:
    rng = random.Random(3)
    for batch in range(40):
        for app in ("a", "b", "c"):
            ts = [NOW - rng.randrange(1, 1800) * S for _ in range(20)]
            lines = [f'{{"app":"{app}","batch":{batch},"i":{i},"msg":"hello"}}' for i in range(20)]
            r = store.push([PushStream(f'{{app="{app}"}}', np.asarray(ts, np.int64), lines)])
            assert r.status == 204, r.message


def test_compaction_keeps_every_entry_once(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path, opts())
    fill(store)
    before = content(store)
    chunks_before = sum(len(s.chunks) for s in store._streams.values())
    pieces = store.select(ALL, 0, NOW + S)
    first = next(pieces)  # a read under way while segments are rewritten
    store.compact()
    rest = [first, *pieces]
    assert sum(len(p.lines) for p in rest) == len(before)
    chunks_after = sum(len(s.chunks) for s in store._streams.values())
    assert chunks_after < chunks_before
    assert all(r.compacted for s in store._streams.values() for r in s.chunks)
    assert content(store) == before
    for s in store._streams.values():  # still time-ordered per stream
        ts = np.concatenate(
            [
                p.ts
                for p in store.select(
                    [Matcher(MatchType.EQUAL, "app", dict(s.labels)["app"])], 0, NOW + S
                )
            ]
        )
        assert bool(np.all(np.diff(ts) >= 0))
    store.close()
    store = LogStore.open(tmp_path, opts())
    assert content(store) == before
    store.close()


def test_compaction_before_a_checkpoint_replays_without_duplicates(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path, opts())
    fill(store)
    before = content(store)
    with store._maint_lock:  # compact without cutting heads or checkpointing the WAL
        while store._compact(force=True):
            pass
    store.close()
    store = LogStore.open(tmp_path, opts())
    assert content(store) == before
    store.push([PushStream('{app="a"}', np.asarray([NOW], np.int64), ["late"])])
    store.compact()
    store.close()
    store = LogStore.open(tmp_path, opts())
    assert len(content(store)) == len(before) + 1
    store.close()


def test_concurrent_push_read_and_maintenance(tmp_path: Path) -> None:
    import threading

    o = opts()
    o.retention_ns = 3600 * S
    store = LogStore.open(tmp_path, o)
    errors: list[BaseException] = []
    stop = threading.Event()
    pushed: list[str] = []

    def pusher() -> None:
        try:
            for i in range(300):
                line = f'{{"n":{i},"pad":"{"x" * 60}"}}'
                r = store.push(
                    [PushStream('{app="p"}', np.asarray([NOW - 600 * S + i], np.int64), [line])]
                )
                assert r.status == 204, r.message
                pushed.append(line)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def reader() -> None:
        try:
            while not stop.is_set():
                seen = [x for c in store.select(ALL, 0, NOW + S) for x in c.lines]
                assert len(seen) == len(set(seen))
        except BaseException as exc:
            errors.append(exc)

    def maintainer() -> None:
        try:
            while not stop.is_set():
                store.maintain(checkpoint=True)
                with store._maint_lock:
                    store._compact(force=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (pusher, reader, maintainer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(x for c in store.select(ALL, 0, NOW + S) for x in c.lines) == sorted(pushed)
    store.close()
    store = LogStore.open(tmp_path, o)
    assert sorted(x for c in store.select(ALL, 0, NOW + S) for x in c.lines) == sorted(pushed)
    store.close()
