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

    assert manager.enqueued[-1] == (refs.tolist(), lbls, [2000] * 3, [2.0, 3.0, 4.0])
    series = db.querier().select([Matcher(MatchType.EQUAL, "__name__", "m")], 0, 3000)
    assert [s.values.tolist() for s in series] == [[1.0, 2.0], [1.0, 3.0], [1.0, 4.0]]
    db.close()


def test_no_queues_writes_straight_through(tmp_path: Path) -> None:
    db = TSDB.open(str(tmp_path / "data"))
    storage = TeeStorage(db, cast(Any, RecordingManager(with_queue=False)))
    assert type(storage.appender()) is type(db.appender())
    db.close()
