"""Loki's delete requests: a selector (with optional line filters) and a time range.

Requests persist in ``deletes.json``. The store hides matching entries from every read
at once; after the cancel period (Loki's ``delete_request_cancel_period``) maintenance
removes them from chunks and heads and marks the request ``processed``.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson

from tidewatch.logs.logql import ast
from tidewatch.logs.logql.parser import parse_expr
from tidewatch.logs.logql.pipeline import Pipeline
from tidewatch.logs.logql.store import StreamChunk
from tidewatch.matcher import Matcher, matches_all


class DeleteRequestError(ValueError):
    pass


@dataclass
class DeleteRequest:
    request_id: str
    query: str
    start_time_ms: int
    end_time_ms: int
    created_at_ms: int
    status: str = "received"

    def api_json(self) -> dict[str, object]:
        return {
            "request_id": self.request_id,
            "start_time": _seconds(self.start_time_ms),
            "end_time": _seconds(self.end_time_ms),
            "query": self.query,
            "status": self.status,
            "created_at": _seconds(self.created_at_ms),
        }


def _seconds(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


@dataclass
class _Compiled:
    req: DeleteRequest
    matchers: list[Matcher]
    pipeline: Pipeline | None


def parse_delete_query(query: str) -> ast.LogQuery:
    expr = parse_expr(query)  # raises ParseError with Loki's wording
    if not isinstance(expr, ast.LogQuery):
        raise DeleteRequestError("invalid query expression")
    for st in expr.stages:
        if not isinstance(st, ast.LineFilter):
            raise DeleteRequestError(
                "invalid query expression: only line filters are allowed in delete queries"
            )
    return expr


class DeleteRequests:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._items: list[DeleteRequest] = []
        self._compiled: list[_Compiled] = []
        if path.exists():
            for d in orjson.loads(path.read_bytes()):
                self._items.append(DeleteRequest(**d))
        self._compile()

    def _compile(self) -> None:
        out = []
        for r in self._items:
            if r.status != "received":
                continue  # processed: the entries are gone from disk
            q = parse_delete_query(r.query)
            out.append(_Compiled(r, q.matchers, Pipeline(q.stages) if q.stages else None))
        self._compiled = out

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps([asdict(r) for r in self._items]))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def add(self, query: str, start_ms: int, end_ms: int) -> DeleteRequest:
        parse_delete_query(query)
        req = DeleteRequest(secrets.token_hex(4), query, start_ms, end_ms, int(time.time() * 1000))
        with self._lock:
            self._items.append(req)
            self._compile()
            self._save()
        return req

    def cancel(self, request_id: str) -> bool:
        """False when there is no such request; an error once it has been processed."""
        with self._lock:
            found = [r for r in self._items if r.request_id == request_id]
            if not found:
                return False
            if any(r.status != "received" for r in found):
                raise DeleteRequestError(
                    "deletion of request which is in process or already processed is not allowed"
                )
            self._items = [r for r in self._items if r.request_id != request_id]
            self._compile()
            self._save()
            return True

    def due(self, now_ms: int, cancel_period_ms: int) -> list[_Compiled]:
        """Received requests whose cancel period is over: ready to apply to disk."""
        return [c for c in self._compiled if c.req.created_at_ms + cancel_period_ms <= now_ms]

    def mark_processed(self, request_ids: set[str]) -> None:
        with self._lock:
            for r in self._items:
                if r.request_id in request_ids:
                    r.status = "processed"
            self._compile()
            self._save()

    def all(self) -> list[DeleteRequest]:
        return list(self._items)

    def active(self) -> list[_Compiled]:
        return self._compiled

    @staticmethod
    def keep_mask(compiled: list[_Compiled], chunk: StreamChunk) -> npt.NDArray[np.bool_] | None:
        """Entries of ``chunk`` that no delete request removes; None when all stay."""
        keep: npt.NDArray[np.bool_] | None = None
        for c in compiled:
            if not matches_all(c.matchers, chunk.labels):
                continue
            lo_ns, hi_ns = c.req.start_time_ms * 1_000_000, c.req.end_time_ms * 1_000_000
            in_range = (chunk.ts >= lo_ns) & (chunk.ts <= hi_ns + 999_999)
            if not in_range.any():
                continue
            hit = in_range
            if c.pipeline is not None:
                passed = np.zeros(len(chunk.ts), dtype=bool)
                passed[c.pipeline.process(chunk).index] = True
                hit = in_range & passed
            keep = ~hit if keep is None else keep & ~hit
        return keep
