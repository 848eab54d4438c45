"""Step-wise values of metric-query evaluation, and the query error type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tidewatch.labels import Labels

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


class QueryError(Exception):
    """A query that parsed but cannot be evaluated (pipeline error, bad matching)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Scalar:
    """A scalar at every step."""

    values: F64


@dataclass
class Vec:
    """An instant vector at every step: ``values[i, j]`` is series i at step j, meaningful
    where ``present[i, j]``."""

    labels: list[Labels]
    values: F64
    present: Bools

    def take(self, rows: list[int]) -> Vec:
        idx = np.asarray(rows, dtype=np.intp)
        return Vec([self.labels[i] for i in rows], self.values[idx], self.present[idx])
