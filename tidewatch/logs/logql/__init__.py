"""LogQL: parser, pipeline and engine for log and metric queries.

Entry points: :class:`LogQLEngine` (``query_range`` / ``query_instant`` over a
:class:`LogReader`), :func:`result_to_json` (Loki's ``data`` object), and
:func:`parse_expr` / :class:`ParseError` for validation.
"""

from tidewatch.logs.logql.engine import (
    LogQLEngine,
    MatrixResult,
    QueryStats,
    Result,
    ScalarResult,
    StreamResult,
    Streams,
    VectorResult,
)
from tidewatch.logs.logql.parser import ParseError, parse_expr
from tidewatch.logs.logql.result_json import result_to_json
from tidewatch.logs.logql.store import LogReader, MemoryLogStore, StreamChunk
from tidewatch.logs.logql.values import QueryError

__all__ = [
    "LogQLEngine",
    "LogReader",
    "MatrixResult",
    "MemoryLogStore",
    "ParseError",
    "QueryError",
    "QueryStats",
    "Result",
    "ScalarResult",
    "StreamChunk",
    "StreamResult",
    "Streams",
    "VectorResult",
    "parse_expr",
    "result_to_json",
]
