"""Push a query's leading ``|= "literal"`` filters down to the store.

The store can then search a chunk's raw text and build Python strings only for lines
that contain the literals. The engine still runs the whole pipeline, so this only
saves work. With several log selectors in one query, only literals every one of them
requires are pushed down.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from tidewatch.logs.logql import ast
from tidewatch.logs.logql.store import StreamChunk
from tidewatch.logs.store.linefilter import FilterMemo
from tidewatch.matcher import Matcher


def _leading_literals(q: ast.LogQuery) -> set[str]:
    out: set[str] = set()
    for st in q.stages:
        if not isinstance(st, ast.LineFilter):
            break  # a parser or formatter may change the line: stop here
        if st.op == "|=" and len(st.values) == 1 and not st.values[0].is_ip:
            text = st.values[0].text
            if text and "\n" not in text:
                out.add(text)
    return out


def _log_queries(expr: Any) -> Iterator[ast.LogQuery]:
    if isinstance(expr, ast.LogQuery):
        yield expr
    elif isinstance(expr, ast.RangeAggregation):
        yield expr.range.query
    elif isinstance(expr, ast.VectorAggregation | ast.LabelReplace):
        yield from _log_queries(expr.expr)
    elif isinstance(expr, ast.BinaryExpr):
        yield from _log_queries(expr.left)
        yield from _log_queries(expr.right)


def required_literals(expr: ast.Expr) -> list[str]:
    common: set[str] | None = None
    for q in _log_queries(expr):
        lits = _leading_literals(q)
        common = lits if common is None else common & lits
    return sorted(common or ())


class PrefilterReader:
    """A ``LogReader`` over the store that asks it for lines holding ``literals`` only.
    When the engine hands down the query's line filters, the store applies those
    exactly instead (they cover the literals)."""

    accepts_line_filters = True

    def __init__(self, store: Any, literals: list[str]) -> None:
        self.store = store
        self.literals = literals
        self.memo = FilterMemo()

    def select(
        self,
        matchers: Sequence[Matcher],
        start_ns: int,
        end_ns: int,
        line_filters: Sequence[ast.LineFilter] = (),
    ) -> Iterator[StreamChunk]:
        if line_filters and getattr(self.store, "accepts_line_filters", False):
            found: Iterator[StreamChunk] = self.store.select(
                matchers, start_ns, end_ns, line_filters=line_filters, filter_memo=self.memo
            )
            return found
        result: Iterator[StreamChunk] = self.store.select(
            matchers, start_ns, end_ns, contains=self.literals
        )
        return result


def reader_for(store: Any, query: str) -> Any:
    """A pre-filtering view of the store for one query (the store itself when it can
    neither pre-filter nor take line filters)."""
    from tidewatch.logs.logql.parser import ParseError, parse_expr

    try:
        literals = required_literals(parse_expr(query))
    except ParseError:
        return store  # the engine reports the error
    if not literals and not getattr(store, "accepts_line_filters", False):
        return store
    # One reader per query: it carries the query's memo of filtered chunk reads.
    return PrefilterReader(store, literals)
