"""How rules run PromQL: one instant query, the result as (labels, value) pairs."""

from __future__ import annotations

from collections.abc import Callable

from tidewatch.labels import Labels
from tidewatch.promql.ast import Expr
from tidewatch.promql.engine import Engine, QueryError
from tidewatch.promql.values import Scalar, Vector
from tidewatch.tsdb.interface import Storage

# (expression, evaluation time in ms) -> instant vector as (labels, value) pairs.
QueryFunc = Callable[[Expr | str, int], list[tuple[Labels, float]]]


def engine_query_func(engine: Engine, storage: Storage) -> QueryFunc:
    """Prometheus's EngineQueryFunc: a scalar becomes one sample without labels."""

    def run(expr: Expr | str, t_ms: int) -> list[tuple[Labels, float]]:
        querier = storage.querier()
        try:
            result = engine.instant_query(querier, expr, t_ms)
        finally:
            querier.close()
        value = result.value
        if isinstance(value, Vector):
            return [(s.labels, s.value) for s in value.samples]
        if isinstance(value, Scalar):
            return [((), value.value)]
        raise QueryError("execution", "rule result is not a vector or scalar")

    return run
