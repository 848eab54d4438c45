"""statfs(2) on many mount points with a timeout, so one hung NFS mount cannot stall a scrape.

A mount whose statfs does not answer within the timeout is marked stuck and
reported as a device error (without being asked again) until that call
returns, which is what node_exporter does.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future, wait


class StatfsRunner:
    def __init__(self, timeout_s: float = 5.0, workers: int = 4) -> None:
        self._timeout_s = timeout_s
        self._workers = workers
        self._queue: queue.SimpleQueue[tuple[str, Future[os.statvfs_result]]] = queue.SimpleQueue()
        self._started = False
        self._stuck: set[str] = set()
        self._lock = threading.Lock()

    def statfs_many(self, paths: list[str]) -> list[os.statvfs_result | None]:
        """statvfs of each path in order; None where it failed or is stuck."""
        self._start_workers()
        futures: dict[int, Future[os.statvfs_result]] = {}
        with self._lock:
            stuck = set(self._stuck)
        for i, path in enumerate(paths):
            if path not in stuck:
                future: Future[os.statvfs_result] = Future()
                self._queue.put((path, future))
                futures[i] = future
        if futures:
            wait(futures.values(), timeout=self._timeout_s)
        results: list[os.statvfs_result | None] = [None] * len(paths)
        for i, future in futures.items():
            if not future.done():
                self._mark_stuck(paths[i], future)
                continue
            if future.exception() is None:
                results[i] = future.result()
        return results

    def _start_workers(self) -> None:
        # Daemon threads, not a ThreadPoolExecutor: a worker stuck in statfs on a
        # dead mount must not block interpreter exit.
        with self._lock:
            if self._started:
                return
            self._started = True
        for n in range(self._workers):
            threading.Thread(target=self._work, name=f"tidewatch-statfs-{n}", daemon=True).start()

    def _work(self) -> None:
        while True:
            path, future = self._queue.get()
            try:
                future.set_result(os.statvfs(path))
            except OSError as exc:
                future.set_exception(exc)

    def _mark_stuck(self, path: str, future: Future[os.statvfs_result]) -> None:
        with self._lock:
            self._stuck.add(path)

        def recovered(_: Future[os.statvfs_result]) -> None:
            with self._lock:
                self._stuck.discard(path)

        future.add_done_callback(recovered)

    def is_stuck(self, path: str) -> bool:
        with self._lock:
            return path in self._stuck
