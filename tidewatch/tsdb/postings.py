"""Postings: label pair -> sorted series ids, and selecting ids by label matchers.

Prometheus's empty-value rule: a matcher that matches "" also selects series that
lack the label, so such matchers are applied by *removing* the series whose value
does not match, instead of collecting those whose value does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher, MatchType
from tidewatch.tsdb.encoding import I64

_EMPTY = np.empty(0, np.int64)


class Postings:
    """Append ids in ascending order; lists stay sorted without re-sorting."""

    def __init__(self) -> None:
        # Values are lists (head, appended to) or numpy arrays (blocks, immutable).
        self.index: dict[str, dict[str, Any]] = {}
        self._all: list[int] = []
        self._all_arr: I64 | None = None

    @classmethod
    def from_index(cls, index: dict[str, dict[str, I64]], all_ids: I64) -> Postings:
        p = cls()
        p.index = dict(index)
        p._all_arr = all_ids
        return p

    def add(self, sid: int, lbls: Labels) -> None:
        self._all.append(sid)
        for name, value in lbls:
            values = self.index.get(name)
            if values is None:
                values = self.index[name] = {}
            lst = values.get(value)
            if lst is None:
                values[value] = [sid]
            else:
                lst.append(sid)

    @classmethod
    def build(cls, items: Iterable[tuple[int, Labels]]) -> Postings:
        p = cls()
        for sid, lbls in items:
            p.add(sid, lbls)
        return p

    def all_ids(self) -> I64:
        if self._all_arr is not None:
            return self._all_arr
        return np.array(self._all, dtype=np.int64)

    def ids_for(self, name: str, value: str) -> I64:
        lst = self.index.get(name, {}).get(value)
        return _EMPTY if lst is None or len(lst) == 0 else np.asarray(lst, dtype=np.int64)

    def _union(self, name: str, matcher: Matcher, want: bool) -> I64:
        values = self.index.get(name)
        if not values:
            return _EMPTY
        lists = [lst for v, lst in values.items() if matcher.matches(v) is want]
        if not lists:
            return _EMPTY
        if len(lists) == 1:
            return np.asarray(lists[0], dtype=np.int64)
        return np.unique(np.concatenate([np.asarray(x, dtype=np.int64) for x in lists]))

    def select(self, matchers: Sequence[Matcher]) -> I64:
        """Sorted ids of series matching every matcher."""
        positive = [m for m in matchers if not m.matches_empty()]
        negative = [m for m in matchers if m.matches_empty()]
        result: I64 | None = None
        for m in positive:
            if m.type is MatchType.EQUAL:
                ids = self.ids_for(m.name, m.value)
            else:
                ids = self._union(m.name, m, True)
            result = ids if result is None else np.intersect1d(result, ids, assume_unique=True)
            if len(result) == 0:
                return _EMPTY
        if result is None:
            result = self.all_ids()
        for m in negative:
            drop = self._union(m.name, m, False)
            if len(drop):
                result = np.setdiff1d(result, drop, assume_unique=True)
        return result

    def label_names(self) -> list[str]:
        return sorted(self.index)

    def label_values(self, name: str) -> list[str]:
        return sorted(self.index.get(name, {}))
