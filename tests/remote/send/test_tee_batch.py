"""Whole-array appends through the remote-write tee reach both the store and the queues."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np

from tidewatch.labels import from_dict
from tidewatch.matcher import Matcher, MatchType
from tidewatch.remote.send import TeeStorage
from tidewatch.tsdb import TSDB


class RecordingManager:
    def __init__(self, with_queue: bool) -> None:
        self.queues: dict[str, object] = {"q": object()} if with_queue else {}
        self.enqueued: list[tuple[list[int], list[Any], list[int], list[float]]] = []
        self.metadata: dict[str, Any] = {}

    def enqueue(self, refs: list[int], labels: list[Any], ts: list[int], vals: list[float]) -> None:
        self.enqueued.append((refs, labels, ts, vals))


def test_append_batch_is_stored_and_forwarded(tmp_path: Path) -> None:
    db = TSDB.open(str(tmp_path / "data"))
    manager = RecordingManager(with_queue=True)
    storage = TeeStorage(db, cast(Any, manager))
    lbls = [from_dict({"__name__": "m", "i": str(i)}) for i in range(3)]
    app = storage.appender()
    refs = np.array([app.append(0, lb, 1000, 1.0) for lb in lbls], dtype=np.int64)
    app.commit()

    app = storage.appender()
    app.append_batch(  # type: ignore[attr-defined]
        refs, lbls, np.full(3, 2000, np.int64), np.array([2.0, 3.0, 4.0])
    )
    app.commit()

    got_refs, got_labels, got_ts, got_vals = manager.enqueued[-1]
    assert np.asarray(got_refs).tolist() == refs.tolist() and list(got_labels) == lbls
    assert np.asarray(got_ts).tolist() == [2000] * 3
    assert np.asarray(got_vals).tolist() == [2.0, 3.0, 4.0]

    # Single appends and batches in one commit keep their call order.
    app = storage.appender()
    app.append(int(refs[0]), lbls[0], 3000, 5.0)
    app.append_batch(  # type: ignore[attr-defined]
        refs[1:], lbls[1:], np.full(2, 3000, np.int64), np.array([6.0, 7.0])
    )
    app.append(int(refs[0]), lbls[0], 3500, 8.0)
    app.commit()
    got_refs, got_labels, got_ts, got_vals = manager.enqueued[-1]
    assert np.asarray(got_refs).tolist() == [*refs.tolist(), int(refs[0])]
    assert list(got_labels) == [*lbls, lbls[0]]
    assert np.asarray(got_ts).tolist() == [3000, 3000, 3000, 3500]
    assert np.asarray(got_vals).tolist() == [5.0, 6.0, 7.0, 8.0]
    series = db.querier().select([Matcher(MatchType.EQUAL, "__name__", "m")], 0, 2000)
    assert [s.values.tolist() for s in series] == [[1.0, 2.0], [1.0, 3.0], [1.0, 4.0]]
    db.close()


def test_no_queues_writes_straight_through(tmp_path: Path) -> None:
    db = TSDB.open(str(tmp_path / "data"))
    storage = TeeStorage(db, cast(Any, RecordingManager(with_queue=False)))
    assert type(storage.appender()) is type(db.appender())
    db.close()
