"""The log store over real files: push, validation, ordering, chunks, reopen, retention, deletes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tidewatch.labels import Labels
from tidewatch.logs.push.decode import PushStream
from tidewatch.logs.store import LogStore, LogStoreOptions, StreamRetention
from tidewatch.logs.store.deletes import DeleteRequestError
from tidewatch.matcher import Matcher, MatchType

S = 1_000_000_000
NOW = time.time_ns() // S * S


def ps(labels: str, ts: list[int], lines: list[str], md: list[Labels] | None = None) -> PushStream:
    return PushStream(labels, np.asarray(ts, dtype=np.int64), lines, md)


def eq(name: str, value: str) -> Matcher:
    return Matcher(MatchType.EQUAL, name, value)


def read_all(store: LogStore, matchers: list[Matcher]) -> list[tuple[Labels, int, str]]:
    out = []
    for c in store.select(matchers, 0, NOW + 3600 * S):
        out += [(c.labels, int(t), line) for t, line in zip(c.ts.tolist(), c.lines, strict=True)]
    return out


def opts(**kw: object) -> LogStoreOptions:
    o = LogStoreOptions(ingestion_rate_mb=0)
    for k, v in kw.items():
        setattr(o, k, v)
    return o


def test_push_select_and_index(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path, opts())
    r = store.push(
        [
            ps('{app="api", env="prod"}', [NOW - 3 * S, NOW - 1 * S], ["a", "c"]),
            ps('{env="prod", app="db"}', [NOW - 2 * S], ["b"]),
        ]
    )
    assert r.status == 204, r.message
    got = read_all(store, [eq("env", "prod")])
    assert [x[2] for x in got] == ["a", "c", "b"]
    assert got[0][0] == (("app", "api"), ("env", "prod"))
    assert store.label_names() == ["app", "env"]
    assert store.label_values("app") == ["api", "db"]
    assert store.series([Matcher(MatchType.REGEX, "app", "a.*")]) == [
        (("app", "api"), ("env", "prod"))
    ]
    # Time ranges are half-open: [start, end).
    pieces = list(store.select([eq("app", "api")], NOW - 3 * S, NOW - 1 * S))
    assert [x for c in pieces for x in c.lines] == ["a"]
    assert store.stats([eq("app", "api")], 0, NOW + S) == {
        "streams": 1,
        "chunks": 1,
        "bytes": 2,
        "entries": 2,
    }
    store.close()


def test_validation_keeps_valid_streams_and_names_the_bad_one(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path, opts(max_line_size=10, max_label_names_per_series=2))
    r = store.push(
        [
            ps('{app="ok"}', [NOW], ["fine"]),
            ps('{a="1", b="2", c="3"}', [NOW], ["x"]),
            ps('{app="long"}', [NOW, NOW + 1], ["0123456789abc", "short"]),
            ps('{app="broken"', [NOW], ["x"]),
        ]
    )
    assert r.status == 400
    assert "3 errors: " in r.message
    assert 'entry for stream \'{a="1", b="2", c="3"}\' has 3 label names; limit 2' in r.message
    assert (
        "Max entry size '10' bytes exceeded for stream '{app=\"long\"}' while adding an entry "
        "with length '13' bytes" in r.message
    )
    assert "Error parsing labels '{app=\"broken\"' with error:" in r.message
    lines = sorted(x[2] for x in read_all(store, [Matcher(MatchType.REGEX, "app", ".+")]))
    assert lines == ["fine", "short"]
    store.close()


def test_label_limits_and_timestamps(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path, opts(max_label_name_length=5, max_label_value_length=5))
    r = store.push([ps('{toolongname="x"}', [NOW], ["l"])])
    assert r.message == "stream '{toolongname=\"x\"}' has label name too long: 'toolongname'"
    r = store.push([ps('{a="toolongvalue"}', [NOW], ["l"])])
    assert r.message == "stream '{a=\"toolongvalue\"}' has label value too long: 'toolongvalue'"
    r = store.push([ps('{a="x", a="y"}', [NOW], ["l"])])
    assert r.message == "stream '{a=\"x\", a=\"y\"}' has duplicate label name: 'a'"
    r = store.push([ps("{}", [NOW], ["l"])])
    assert r.message == "error at least one label pair is required per stream"
    old = NOW - 8 * 24 * 3600 * S
    r = store.push([ps('{a="x"}', [old], ["l"])])
    assert r.status == 400 and "has timestamp too old: " in r.message
    r = store.push([ps('{a="x"}', [NOW + 3600 * S], ["l"])])
    assert r.status == 400 and r.message.startswith(
        "entry for stream '{a=\"x\"}' has timestamp too new: "
    )
    assert read_all(store, [eq("a", "x")]) == []
    store.close()


def test_out_of_order_window_and_duplicates(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path, opts())
    assert store.push([ps('{a="x"}', [NOW], ["newest"])]).status == 204
    # Within half of max_chunk_age (1 h): accepted out of order.
    assert store.push([ps('{a="x"}', [NOW - 1800 * S], ["older"])]).status == 204
    # Exact duplicate of the previous entry: dropped silently.
    assert store.push([ps('{a="x"}', [NOW - 1800 * S], ["older"])]).status == 204
    r = store.push([ps('{a="x"}', [NOW - 2 * 3600 * S, NOW + S], ["too old", "ok"])])
    assert r.status == 400
    assert "ignored, reason: 'entry too far behind, entry timestamp is: " in r.message
    assert r.message.endswith("user 'fake', total ignored: 1 out of 2 for stream: {a=\"x\"}")
    assert [x[2] for x in read_all(store, [eq("a", "x")])] == ["older", "newest", "ok"]
    store.close()


def test_rate_limit_refuses_whole_push(tmp_path: Path) -> None:
    store = LogStore.open(
        tmp_path, LogStoreOptions(ingestion_rate_mb=0.00001, ingestion_burst_size_mb=0.00002)
    )
    r = store.push([ps('{a="x"}', [NOW], ["x" * 100])])
    assert r.status == 429
    assert r.message.startswith("Ingestion rate limit exceeded for user fake (limit: 10 bytes/sec)")
    assert read_all(store, [eq("a", "x")]) == []
    store.close()


def test_chunks_reopen_and_wal_replay(tmp_path: Path) -> None:
    o = opts(chunk_target_bytes=1000)
    store = LogStore.open(tmp_path, o)
    lines = [f"line {i:05d} " + "x" * 40 for i in range(200)]
    ts = [NOW - 100 * S + i * 1000 for i in range(200)]
    md: list[Labels] = [(("trace", str(i)),) if i % 2 else () for i in range(200)]
    assert store.push([ps('{a="x"}', ts, lines, md)]).status == 204
    assert store.push([ps('{a="x"}', [NOW - 200 * S], ["late"])]).status == 204
    assert store.disk_bytes() > 0
    store.close()  # no flush: the head lives only in the WAL
    store = LogStore.open(tmp_path, o)
    got = list(store.select([eq("a", "x")], 0, NOW + S))
    all_lines = [x for c in got for x in c.lines]
    assert all_lines == ["late", *lines]
    all_md = [m for c in got for m in (c.metadata or [()] * len(c.lines))]
    assert all_md[2] == (("trace", "1"),)
    # A checkpoint after a flush still replays to the same content, without duplicates.
    store.flush()
    store.close()
    store = LogStore.open(tmp_path, o)
    assert len(read_all(store, [eq("a", "x")])) == 201
    store.close()


def test_retention_by_time_per_stream_and_size(tmp_path: Path) -> None:
    o = opts(
        chunk_target_bytes=100,
        retention_ns=10 * 24 * 3600 * S,
        retention_stream=[StreamRetention([eq("app", "short")], 3600 * S, priority=1)],
        reject_old_samples=False,
    )
    store = LogStore.open(tmp_path, o)
    old = NOW - 2 * 3600 * S
    for app in ("short", "long"):
        store.push([ps(f'{{app="{app}"}}', [old], ["x" * 200])])
        store.push([ps(f'{{app="{app}"}}', [NOW], ["y" * 200])])
    store.flush()
    store.maintain(NOW)
    assert [x[2][0] for x in read_all(store, [eq("app", "short")])] == ["y"]
    assert [x[2][0] for x in read_all(store, [eq("app", "long")])] == ["x", "y"]
    store.close()
    store = LogStore.open(tmp_path, o)  # drops are on disk, not just in memory
    assert len(read_all(store, [eq("app", "short")])) == 1
    store.options.max_bytes = store.disk_bytes() - 1
    store.maintain(NOW)
    assert len(read_all(store, [eq("app", "long")])) == 1
    assert [x[2][0] for x in read_all(store, [eq("app", "long")])] == ["y"]
    store.close()


def test_delete_requests_hide_entries(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path, opts())
    store.push([ps('{a="x"}', [NOW - 3 * S, NOW - 2 * S, NOW - S], ["keep", "secret", "secret"])])
    store.deletes.add('{a="x"} |= "secret"', (NOW - 2 * S) // 1_000_000, (NOW - 2 * S) // 1_000_000)
    assert [x[2] for x in read_all(store, [eq("a", "x")])] == ["keep", "secret"]
    store.close()
    store = LogStore.open(tmp_path, opts())
    assert [x[2] for x in read_all(store, [eq("a", "x")])] == ["keep", "secret"]
    (req,) = store.deletes.all()
    assert store.deletes.cancel(req.request_id)
    assert len(read_all(store, [eq("a", "x")])) == 3
    store.close()


def test_dropped_chunks_do_not_come_back_from_the_wal(tmp_path: Path) -> None:
    o = opts(chunk_target_bytes=100, retention_ns=3600 * S)
    store = LogStore.open(tmp_path, o)
    store.push([ps('{a="x"}', [NOW - 2 * 3600 * S], ["o" * 200])])  # cut into a chunk at once
    store.push([ps('{a="x"}', [NOW], ["n" * 200])])
    store.maintain(NOW)
    assert [x[2][0] for x in read_all(store, [eq("a", "x")])] == ["n"]
    store.close()
    store = LogStore.open(tmp_path, o)
    assert [x[2][0] for x in read_all(store, [eq("a", "x")])] == ["n"]
    store.close()


def test_torn_chunk_segment_tail_is_cut(tmp_path: Path) -> None:
    o = opts(chunk_target_bytes=100)
    store = LogStore.open(tmp_path, o)
    store.push([ps('{a="x"}', [NOW], ["z" * 200])])
    store.flush()
    store.close()
    (seg,) = (tmp_path / "chunks").iterdir()
    with open(seg, "ab") as f:
        f.write(b"\x50\x00\x00\x00garbage")  # a record cut short by a crash
    store = LogStore.open(tmp_path, o)
    assert [x[2] for x in read_all(store, [eq("a", "x")])] == ["z" * 200]
    store.push([ps('{a="x"}', [NOW + 1], ["after"])])
    store.flush()
    store.close()
    store = LogStore.open(tmp_path, o)
    assert [x[2] for x in read_all(store, [eq("a", "x")])] == ["z" * 200, "after"]
    store.close()


def test_stream_limit(tmp_path: Path) -> None:
    store = LogStore.open(tmp_path, opts(max_streams=1))
    assert store.push([ps('{a="1"}', [NOW], ["x"])]).status == 204
    r = store.push([ps('{a="2"}', [NOW], ["y"]), ps('{a="1"}', [NOW + 1], ["z"])])
    assert r.status == 429
    assert r.message.startswith(
        'Maximum active stream limit exceeded when trying to create stream {a="2"}'
    )
    assert [x[2] for x in read_all(store, [Matcher(MatchType.REGEX, "a", ".+")])] == ["x", "z"]
    store.close()


def test_deletes_are_applied_to_disk_after_the_cancel_period(tmp_path: Path) -> None:
    o = opts(chunk_target_bytes=50, delete_cancel_period_ns=0)
    store = LogStore.open(tmp_path, o)
    lines = [f"{w} {i:03d} " + "." * 40 for i, w in enumerate(["keep", "secret"] * 5)]
    store.push([ps('{a="x"}', [NOW - 20 * S + i for i in range(10)], lines)])
    store.push([ps('{a="x"}', [NOW - 10 * S], ["secret in head"])])
    req = store.deletes.add('{a="x"} |= "secret"', 0, NOW // 1_000_000)
    store.maintain()
    assert store.deletes.all()[0].status == "processed"
    assert store.deletes.active() == []  # reads no longer filter: the data is gone
    expected = [x for x in lines if x.startswith("keep")]
    assert [x[2] for x in read_all(store, [eq("a", "x")])] == expected
    with pytest.raises(DeleteRequestError):
        store.deletes.cancel(req.request_id)
    store.close()
    store = LogStore.open(tmp_path, o)
    assert [x[2] for x in read_all(store, [eq("a", "x")])] == expected
    store.push([ps('{a="x"}', [NOW], ["later"])])
    store.flush()
    store.close()
    store = LogStore.open(tmp_path, o)
    assert [x[2] for x in read_all(store, [eq("a", "x")])] == [*expected, "later"]
    store.close()


def test_corrupt_chunk_body_is_reported(tmp_path: Path) -> None:
    from tidewatch.logs.store.chunks import ChunkCorrupt

    store = LogStore.open(tmp_path, opts(chunk_target_bytes=10))
    store.push([ps('{a="x"}', [NOW], ["some line " * 20])])
    store.close()
    (seg,) = (tmp_path / "chunks").iterdir()
    data = bytearray(seg.read_bytes())
    data[-10] ^= 0xFF  # inside the compressed body
    seg.write_bytes(bytes(data))
    store = LogStore.open(tmp_path, opts())
    with pytest.raises(ChunkCorrupt):
        read_all(store, [eq("a", "x")])
    store.close()
