"""The on-disk queue: segments, series headers, resume position, torn tails, cleanup."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tidewatch.labels import Labels
from tidewatch.remote.send.queue_log import Position, QueueReader, QueueWriter, concat


def lbl(i: int) -> Labels:
    return (("__name__", "m"), ("i", str(i)))


def write(w: QueueWriter, series: list[int], t: int) -> None:
    w.maybe_rotate()  # before interning, as the queue does
    new: list[tuple[int, Labels]] = []
    refs = np.array([w.ref_of(lbl(i), new) for i in series], np.int64)
    w.append(new, refs, np.full(len(series), t, np.int64), np.arange(len(series), dtype=np.float64))


def read_all(r: QueueReader) -> tuple[dict[int, Labels], list[tuple[int, int]]]:
    """Series declared and (ref, ts) of every sample, reading until nothing is left."""
    names: dict[int, Labels] = {}
    got: list[tuple[int, int]] = []
    while True:
        b = r.read(max_bytes=256)
        names.update(b.series)
        refs, ts, _ = concat(b)
        got += list(zip(refs.tolist(), ts.tolist(), strict=True))
        if not b.series and not b.samples:
            return names, got


def test_rotation_repeats_live_series_and_forgets_idle_ones(tmp_path: Path) -> None:
    w = QueueWriter(tmp_path, segment_bytes=1)  # every append fills a segment
    write(w, [0, 1, 2], 1000)
    ref1 = w.refs[lbl(1)]
    write(w, [1], 2000)  # rotates: all three had samples in the closed segment
    assert len(w.refs) == 3
    write(w, [1], 3000)  # rotates again: 0 and 2 were idle in the previous segment
    assert set(w.refs.values()) == {ref1}
    w.close()
    names, got = read_all(QueueReader(tmp_path))
    assert [t for _, t in got] == [1000, 1000, 1000, 2000, 3000]
    assert names[ref1] == lbl(1)


def test_resume_from_position_skips_sent_samples_but_keeps_series(tmp_path: Path) -> None:
    w = QueueWriter(tmp_path)
    write(w, [0, 1], 1000)
    r = QueueReader(tmp_path)
    b = r.read()
    assert b.samples == 2
    r.commit(Position(*r.pos.as_tuple()))
    write(w, [0, 1], 2000)
    w.close()
    r2 = QueueReader(tmp_path)
    names, got = read_all(r2)
    assert [t for _, t in got] == [2000, 2000]
    assert set(names.values()) == {lbl(0), lbl(1)}


def test_commit_deletes_segments_wholly_sent(tmp_path: Path) -> None:
    w = QueueWriter(tmp_path, segment_bytes=1)
    for t in range(5):
        write(w, [0], t)
    w.close()
    r = QueueReader(tmp_path)
    _, got = read_all(r)
    assert [t for _, t in got] == [0, 1, 2, 3, 4]
    r.commit(Position(*r.pos.as_tuple()))
    remaining = sorted(p.name for p in tmp_path.iterdir() if p.name.isdigit())
    assert remaining == [f"{r.pos.segment:08d}"]


def test_torn_tail_is_skipped_once_a_newer_segment_exists(tmp_path: Path) -> None:
    w = QueueWriter(tmp_path)
    write(w, [0], 1000)
    seg = w.segment
    w.close()
    with open(tmp_path / f"{seg:08d}", "ab") as f:
        f.write(b"\x40\x00\x00\x00garbage")  # a record cut short by a crash
    w2 = QueueWriter(tmp_path)  # a restarted writer opens a new segment
    write(w2, [0], 2000)
    w2.close()
    _, got = read_all(QueueReader(tmp_path))
    assert [t for _, t in got] == [1000, 2000]


def test_restarted_writer_keeps_refs_of_unsent_series(tmp_path: Path) -> None:
    w = QueueWriter(tmp_path)
    write(w, [0, 1], 1000)
    ref0 = w.refs[lbl(0)]
    w.close()
    w2 = QueueWriter(tmp_path)
    assert w2.refs[lbl(0)] == ref0
    new: list[tuple[int, Labels]] = []
    assert w2.ref_of(lbl(5), new) > max(w2.refs.values()) - 1
    assert new and new[0][0] not in (ref0, w2.refs[lbl(1)])
    w2.close()
    assert QueueReader(tmp_path).backlog_samples() == 2


def test_position_is_saved_lazily_within_a_segment(tmp_path: Path) -> None:
    w = QueueWriter(tmp_path)
    write(w, [0], 1000)
    r = QueueReader(tmp_path, save_interval_s=3600)
    r.read()
    r.commit(Position(*r.pos.as_tuple()))  # the first commit is always saved
    write(w, [0], 2000)
    r.read()
    r.commit(Position(*r.pos.as_tuple()))  # within the interval: only in memory
    _, got = read_all(QueueReader(tmp_path))
    assert [t for _, t in got] == [2000]  # a crash now re-sends it: at-least-once
    r.save()  # what a clean stop does
    write(w, [0], 3000)
    w.close()
    _, got = read_all(QueueReader(tmp_path))
    assert [t for _, t in got] == [3000]
