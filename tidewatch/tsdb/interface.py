"""The storage interfaces the rest of tidewatch uses: ``Appender`` to write and
``Querier`` to read. Scraping, remote write, rules and import write through an
Appender; PromQL, the series/labels API and federation read through a Querier.

Times are int64 milliseconds; values float64. Reads return whole columns as numpy
arrays so query code never loops per sample in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher


class StorageError(Exception):
    """A sample was refused; ``reason`` is Prometheus's wording."""


class OutOfOrderSample(StorageError):
    pass


class OutOfBounds(StorageError):
    pass


class DuplicateSampleForTimestamp(StorageError):
    pass


@dataclass(frozen=True)
class Exemplar:
    labels: Labels
    value: float
    ts: int  # ms; 0 when the exposition gave none


@dataclass
class Series:
    """One series' samples in ``[mint, maxt]``, ascending by time, duplicates removed.

    Staleness markers (see ``tidewatch.value``) are included; the query engine
    interprets them.
    """

    labels: Labels
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


@dataclass
class MetricMetadata:
    type: str  # counter, gauge, histogram, summary, info, stateset, unknown
    help: str = ""
    unit: str = ""


@dataclass
class AppendStats:
    samples: int = 0
    series_added: int = 0
    out_of_order: int = 0
    duplicates: int = 0
    out_of_bounds: int = 0
    errors: list[str] = field(default_factory=list)


class Appender(Protocol):
    """A batch of writes that becomes visible and durable together on ``commit``.

    ``append`` returns a series reference; passing it back on later appends (with the
    same labels) skips the label lookup. ``ref == 0`` means "look it up".
    """

    def append(self, ref: int, labels: Labels, t: int, v: float) -> int: ...

    def append_exemplar(self, ref: int, labels: Labels, exemplar: Exemplar) -> None: ...

    def update_metadata(self, metric_family: str, meta: MetricMetadata) -> None: ...

    def commit(self) -> AppendStats: ...

    def rollback(self) -> None: ...


class Querier(Protocol):
    """A read view over ``[mint, maxt]`` (inclusive, ms)."""

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[Series]:
        """Series matching all matchers, sorted by labels, with samples in [mint, maxt]."""
        ...

    def series_labels(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[Labels]:
        """Label sets of matching series having samples in [mint, maxt], sorted."""
        ...

    def label_names(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[str]: ...

    def label_values(
        self, name: str, matchers: Sequence[Matcher], mint: int, maxt: int
    ) -> list[str]: ...

    def close(self) -> None: ...


class Storage(Protocol):
    def appender(self) -> Appender: ...

    def querier(self) -> Querier: ...
