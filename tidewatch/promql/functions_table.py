"""Every PromQL function and aggregation of Prometheus 3.x with its argument types.

The parser checks calls against :data:`FUNCTIONS` (arity and argument types) and
aggregations against :data:`AGGREGATIONS`; the engine looks implementations up by
``Function.name``. ``experimental`` marks what Prometheus gates behind
``--enable-feature=promql-experimental-functions``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ValueType(enum.StrEnum):
    NONE = "none"
    SCALAR = "scalar"
    VECTOR = "vector"
    MATRIX = "matrix"
    STRING = "string"

    def documented(self) -> str:
        """The wording Prometheus uses in type errors ("instant vector", ...)."""
        return _DOCUMENTED.get(self, self.value)


_DOCUMENTED = {
    ValueType.VECTOR: "instant vector",
    ValueType.MATRIX: "range vector",
}


@dataclass(frozen=True, slots=True)
class Function:
    """``variadic``: 0 = exactly ``len(arg_types)`` args; otherwise the last declared
    argument is optional and, for n > 0, up to n arguments may stand in its place;
    -1 = no upper limit (``label_join``). The last type repeats for extra args."""

    name: str
    arg_types: tuple[ValueType, ...]
    return_type: ValueType
    variadic: int = 0
    experimental: bool = False

    @property
    def min_args(self) -> int:
        return len(self.arg_types) - (1 if self.variadic else 0)

    @property
    def max_args(self) -> int | None:
        """None when unbounded."""
        if self.variadic < 0:
            return None
        if self.variadic == 0:
            return len(self.arg_types)
        return len(self.arg_types) - 1 + self.variadic

    def arg_type(self, index: int) -> ValueType:
        """Expected type of argument ``index`` (repeating the last for variadics)."""
        return self.arg_types[min(index, len(self.arg_types) - 1)]


V = ValueType


def _f(
    name: str,
    args: list[ValueType],
    ret: ValueType,
    variadic: int = 0,
    experimental: bool = False,
) -> Function:
    return Function(name, tuple(args), ret, variadic, experimental)


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        _f("abs", [V.VECTOR], V.VECTOR),
        _f("absent", [V.VECTOR], V.VECTOR),
        _f("absent_over_time", [V.MATRIX], V.VECTOR),
        _f("acos", [V.VECTOR], V.VECTOR),
        _f("acosh", [V.VECTOR], V.VECTOR),
        _f("asin", [V.VECTOR], V.VECTOR),
        _f("asinh", [V.VECTOR], V.VECTOR),
        _f("atan", [V.VECTOR], V.VECTOR),
        _f("atanh", [V.VECTOR], V.VECTOR),
        _f("avg_over_time", [V.MATRIX], V.VECTOR),
        _f("ceil", [V.VECTOR], V.VECTOR),
        _f("changes", [V.MATRIX], V.VECTOR),
        _f("clamp", [V.VECTOR, V.SCALAR, V.SCALAR], V.VECTOR),
        _f("clamp_max", [V.VECTOR, V.SCALAR], V.VECTOR),
        _f("clamp_min", [V.VECTOR, V.SCALAR], V.VECTOR),
        _f("cos", [V.VECTOR], V.VECTOR),
        _f("cosh", [V.VECTOR], V.VECTOR),
        _f("count_over_time", [V.MATRIX], V.VECTOR),
        _f("days_in_month", [V.VECTOR], V.VECTOR, variadic=1),
        _f("day_of_month", [V.VECTOR], V.VECTOR, variadic=1),
        _f("day_of_week", [V.VECTOR], V.VECTOR, variadic=1),
        _f("day_of_year", [V.VECTOR], V.VECTOR, variadic=1),
        _f("deg", [V.VECTOR], V.VECTOR),
        _f("end", [], V.SCALAR, experimental=True),
        _f("delta", [V.MATRIX], V.VECTOR),
        _f("deriv", [V.MATRIX], V.VECTOR),
        _f("exp", [V.VECTOR], V.VECTOR),
        _f("first_over_time", [V.MATRIX], V.VECTOR),
        _f("floor", [V.VECTOR], V.VECTOR),
        _f("histogram_avg", [V.VECTOR], V.VECTOR),
        _f("histogram_count", [V.VECTOR], V.VECTOR),
        _f("histogram_sum", [V.VECTOR], V.VECTOR),
        _f("histogram_stddev", [V.VECTOR], V.VECTOR),
        _f("histogram_stdvar", [V.VECTOR], V.VECTOR),
        _f("histogram_fraction", [V.SCALAR, V.SCALAR, V.VECTOR], V.VECTOR),
        _f("histogram_quantile", [V.SCALAR, V.VECTOR], V.VECTOR),
        _f(
            "histogram_quantiles",
            [V.VECTOR, V.STRING, V.SCALAR, V.SCALAR],
            V.VECTOR,
            variadic=9,
            experimental=True,
        ),
        _f(
            "double_exponential_smoothing",
            [V.MATRIX, V.SCALAR, V.SCALAR],
            V.VECTOR,
            experimental=True,
        ),
        _f("hour", [V.VECTOR], V.VECTOR, variadic=1),
        _f("idelta", [V.MATRIX], V.VECTOR),
        _f("increase", [V.MATRIX], V.VECTOR),
        _f("info", [V.VECTOR, V.VECTOR], V.VECTOR, variadic=1, experimental=True),
        _f("irate", [V.MATRIX], V.VECTOR),
        _f("label_replace", [V.VECTOR, V.STRING, V.STRING, V.STRING, V.STRING], V.VECTOR),
        _f("label_join", [V.VECTOR, V.STRING, V.STRING, V.STRING], V.VECTOR, variadic=-1),
        _f("max_of", [V.SCALAR, V.SCALAR], V.SCALAR, experimental=True),
        _f("last_over_time", [V.MATRIX], V.VECTOR),
        _f("min_of", [V.SCALAR, V.SCALAR], V.SCALAR, experimental=True),
        _f("ln", [V.VECTOR], V.VECTOR),
        _f("log10", [V.VECTOR], V.VECTOR),
        _f("log2", [V.VECTOR], V.VECTOR),
        _f("mad_over_time", [V.MATRIX], V.VECTOR, experimental=True),
        _f("max_over_time", [V.MATRIX], V.VECTOR),
        _f("min_over_time", [V.MATRIX], V.VECTOR),
        _f("ts_of_first_over_time", [V.MATRIX], V.VECTOR, experimental=True),
        _f("ts_of_max_over_time", [V.MATRIX], V.VECTOR, experimental=True),
        _f("ts_of_min_over_time", [V.MATRIX], V.VECTOR, experimental=True),
        _f("ts_of_last_over_time", [V.MATRIX], V.VECTOR, experimental=True),
        _f("minute", [V.VECTOR], V.VECTOR, variadic=1),
        _f("month", [V.VECTOR], V.VECTOR, variadic=1),
        _f("pi", [], V.SCALAR),
        _f("predict_linear", [V.MATRIX, V.SCALAR], V.VECTOR),
        _f("present_over_time", [V.MATRIX], V.VECTOR),
        _f("quantile_over_time", [V.SCALAR, V.MATRIX], V.VECTOR),
        _f("rad", [V.VECTOR], V.VECTOR),
        _f("range", [], V.SCALAR, experimental=True),
        _f("rate", [V.MATRIX], V.VECTOR),
        _f("resets", [V.MATRIX], V.VECTOR),
        _f("round", [V.VECTOR, V.SCALAR], V.VECTOR, variadic=1),
        _f("scalar", [V.VECTOR], V.SCALAR),
        _f("sgn", [V.VECTOR], V.VECTOR),
        _f("sin", [V.VECTOR], V.VECTOR),
        _f("sinh", [V.VECTOR], V.VECTOR),
        _f("sort", [V.VECTOR], V.VECTOR),
        _f("sort_desc", [V.VECTOR], V.VECTOR),
        _f("sort_by_label", [V.VECTOR, V.STRING], V.VECTOR, variadic=-1, experimental=True),
        _f("sort_by_label_desc", [V.VECTOR, V.STRING], V.VECTOR, variadic=-1, experimental=True),
        _f("sqrt", [V.VECTOR], V.VECTOR),
        _f("start", [], V.SCALAR, experimental=True),
        _f("start_timestamp", [V.VECTOR], V.VECTOR, experimental=True),
        _f("step", [], V.SCALAR, experimental=True),
        _f("stddev_over_time", [V.MATRIX], V.VECTOR),
        _f("stdvar_over_time", [V.MATRIX], V.VECTOR),
        _f("sum_over_time", [V.MATRIX], V.VECTOR),
        _f("tan", [V.VECTOR], V.VECTOR),
        _f("tanh", [V.VECTOR], V.VECTOR),
        _f("time", [], V.SCALAR),
        _f("timestamp", [V.VECTOR], V.VECTOR),
        _f("vector", [V.SCALAR], V.VECTOR),
        _f("year", [V.VECTOR], V.VECTOR, variadic=1),
    ]
}


@dataclass(frozen=True, slots=True)
class Aggregation:
    """``param_type`` is None for aggregations without a parameter."""

    name: str
    param_type: ValueType | None = None
    experimental: bool = False


AGGREGATIONS: dict[str, Aggregation] = {
    a.name: a
    for a in [
        Aggregation("sum"),
        Aggregation("avg"),
        Aggregation("count"),
        Aggregation("min"),
        Aggregation("max"),
        Aggregation("group"),
        Aggregation("stddev"),
        Aggregation("stdvar"),
        Aggregation("topk", V.SCALAR),
        Aggregation("bottomk", V.SCALAR),
        Aggregation("count_values", V.STRING),
        Aggregation("quantile", V.SCALAR),
        Aggregation("limitk", V.SCALAR, experimental=True),
        Aggregation("limit_ratio", V.SCALAR, experimental=True),
    ]
}


def get_function(name: str) -> Function | None:
    return FUNCTIONS.get(name)
