"""Recording rules: a query whose result is written back under a new metric name."""

from __future__ import annotations

from collections.abc import Mapping

from tidewatch.labels import METRIC_NAME, Labels, from_dict
from tidewatch.promql.ast import Expr
from tidewatch.promql.engine import QueryError
from tidewatch.rules.query import QueryFunc
from tidewatch.rules.rulefile import RuleDef


class RecordingRule:
    def __init__(self, rule: RuleDef, *, group_labels: Mapping[str, str] | None = None) -> None:
        self.name = rule.record
        self.expr_text = rule.expr
        self.expr: Expr | str = rule.expr_ast
        self.language = rule.language
        self.labels = {**(group_labels or {}), **rule.labels}
        self.health = "unknown"
        self.last_error = ""
        self.last_eval_ms = 0
        self.eval_seconds = 0.0

    @property
    def kind(self) -> str:
        return "recording"

    def eval(
        self, ts_ms: int, query: QueryFunc, *, query_offset_ms: int = 0, limit: int = 0
    ) -> list[tuple[Labels, float]]:
        out: list[tuple[Labels, float]] = []
        seen: set[Labels] = set()
        for lbls, value in query(self.expr, ts_ms - query_offset_ms):
            d = dict(lbls)
            d[METRIC_NAME] = self.name
            d.update(self.labels)
            new = from_dict({k: v for k, v in d.items() if v != ""})
            if new in seen:
                raise QueryError(
                    "execution",
                    "vector contains metrics with the same labelset after applying rule labels",
                )
            seen.add(new)
            out.append((new, value))
        if limit > 0 and len(out) > limit:
            raise QueryError("execution", f"exceeded limit of {limit} with {len(out)} series")
        return out
