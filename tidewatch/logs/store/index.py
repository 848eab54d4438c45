"""Label index: label name -> value -> stream ids."""

from __future__ import annotations

from collections.abc import Sequence

from tidewatch.labels import Labels
from tidewatch.matcher import Matcher, MatchType


class LabelIndex:
    def __init__(self) -> None:
        self._postings: dict[str, dict[str, set[int]]] = {}
        self._all: set[int] = set()

    def add(self, sid: int, labels: Labels) -> None:
        self._all.add(sid)
        for name, value in labels:
            self._postings.setdefault(name, {}).setdefault(value, set()).add(sid)

    def remove(self, sid: int, labels: Labels) -> None:
        self._all.discard(sid)
        for name, value in labels:
            values = self._postings.get(name)
            if values is None:
                continue
            ids = values.get(value)
            if ids is not None:
                ids.discard(sid)
                if not ids:
                    del values[value]
            if not values:
                del self._postings[name]

    def names(self) -> list[str]:
        return sorted(self._postings)

    def values(self, name: str) -> dict[str, set[int]]:
        return self._postings.get(name, {})

    def match(self, matchers: Sequence[Matcher]) -> set[int]:
        """Ids of streams whose labels satisfy every matcher (a missing label is "")."""
        result: set[int] | None = None
        # Matchers that select (non-empty-matching) first: they shrink the set fastest.
        ordered = sorted(matchers, key=lambda m: (m.matches(""), m.type != MatchType.EQUAL))
        for m in ordered:
            values = self._postings.get(m.name, {})
            if m.matches(""):
                # Streams without the label match too: remove those whose value fails.
                base = set(self._all) if result is None else result
                for v, ids in values.items():
                    if not m.matches(v):
                        base = base - ids
                result = base
                continue
            if m.type == MatchType.EQUAL:
                found = set(values.get(m.value, ()))
            else:
                found = set()
                for v, ids in values.items():
                    if m.matches(v):
                        found |= ids
            result = found if result is None else result & found
            if not result:
                return set()
        return set(self._all) if result is None else result
