"""Values of PromQL evaluation.

Two families live here:

* The *result* types a query returns (:class:`Scalar`, :class:`String`,
  :class:`Vector`, :class:`Matrix`), shaped like Prometheus's API values.
* The *step* types the evaluator passes between nodes. Every node is evaluated for
  all query steps at once, so an instant vector is a 2-D array ``(series, steps)``
  with a presence mask, and a range vector is a set of per-series windows given by
  index bounds into the series' samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tidewatch.labels import Labels

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------- results


@dataclass
class Scalar:
    t_ms: int
    value: float


@dataclass
class String:
    t_ms: int
    value: str


@dataclass
class Sample:
    labels: Labels
    t_ms: int
    value: float


@dataclass
class Vector:
    samples: list[Sample] = field(default_factory=list)


@dataclass
class MatrixSeries:
    labels: Labels
    ts: I64
    values: F64


@dataclass
class Matrix:
    series: list[MatrixSeries] = field(default_factory=list)


ResultValue = Scalar | String | Vector | Matrix


# --------------------------------------------------------------------------- steps


@dataclass
class ScalarSteps:
    """A scalar per step."""

    values: F64


@dataclass
class StringSteps:
    value: str


@dataclass
class VectorSteps:
    """An instant vector at every step: ``values[i, j]`` is series i at step j,
    meaningful where ``present[i, j]``. ``drop_name[i]`` marks series whose
    ``__name__`` is removed at the end of evaluation (Prometheus 3's delayed
    name removal)."""

    labels: list[Labels]
    values: F64
    present: Bools
    drop_name: Bools

    @staticmethod
    def empty(n_steps: int) -> VectorSteps:
        return VectorSteps(
            [],
            np.zeros((0, n_steps), dtype=np.float64),
            np.zeros((0, n_steps), dtype=bool),
            np.zeros(0, dtype=bool),
        )

    @property
    def n_steps(self) -> int:
        return int(self.values.shape[1])

    def take(self, rows: npt.NDArray[np.intp] | list[int]) -> VectorSteps:
        idx = np.asarray(rows, dtype=np.intp)
        return VectorSteps(
            [self.labels[i] for i in idx.tolist()],
            self.values[idx],
            self.present[idx],
            self.drop_name[idx],
        )

    def compact(self) -> VectorSteps:
        """Drop series absent at every step."""
        keep = self.present.any(axis=1)
        if keep.all():
            return self
        return self.take(np.flatnonzero(keep))


@dataclass
class RangeSteps:
    """A range vector at every step. All series' samples (staleness markers removed)
    are concatenated in ``ts``/``values``; series k owns ``[starts[k], ends[k])`` and
    its window at step j is ``[lo[k, j], hi[k, j])`` (global indexes).
    ``range_start``/``range_end`` are the window bounds per step (exclusive start,
    inclusive end), needed for extrapolation."""

    labels: list[Labels]
    ts: I64
    values: F64
    starts: I64
    ends: I64
    lo: I64
    hi: I64
    drop_name: Bools
    range_start: I64
    range_end: I64
    range_ms: int
    # Experimental extended selectors: windows then also hold the samples up to a
    # lookback delta before the range (and, for smoothed, after it).
    anchored: bool = False
    smoothed: bool = False

    def take(self, rows: npt.NDArray[np.intp]) -> RangeSteps:
        return RangeSteps(
            [self.labels[i] for i in rows.tolist()],
            self.ts,
            self.values,
            self.starts[rows],
            self.ends[rows],
            self.lo[rows],
            self.hi[rows],
            self.drop_name[rows],
            self.range_start,
            self.range_end,
            self.range_ms,
            self.anchored,
            self.smoothed,
        )


StepValue = ScalarSteps | StringSteps | VectorSteps | RangeSteps
