"""Loki's ``categorize-labels`` response encoding for log queries.

With ``X-Loki-Response-Encoding-Flags: categorize-labels`` Loki answers each stream with
its index labels only, and gives every entry a third element,
``{"structuredMetadata": {...}, "parsed": {...}}`` (each key only when non-empty, so
often ``{}``); entries are grouped by their index labels.

The engine answers with merged label sets (stream + structured metadata + parsed),
as Loki does without the flag. This module splits them again: the originating stream
is the stored stream whose labels the merged set holds; an entry's structured
metadata is read back from that stream at the entry's timestamp (only for the
streams and time span of the answer, which is bounded by the query's limit); what is
left is parsed (parsers, ``label_format``, ``__error__``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from tidewatch.labels import Labels
from tidewatch.logs.logql.engine import Streams
from tidewatch.logs.logql.store import StreamChunk
from tidewatch.matcher import Matcher, MatchType

Categories = dict[str, dict[str, str]]


class _Store(Protocol):
    def series(self, matchers: Sequence[Matcher], start_ns: int, end_ns: int) -> list[Labels]: ...

    def select(
        self, matchers: Sequence[Matcher], start_ns: int, end_ns: int
    ) -> Iterable[StreamChunk]: ...


def _origin(merged: dict[str, str], candidates: Sequence[Labels]) -> Labels:
    """The stored stream a result stream came from: the largest one whose labels it holds
    (or, when a stage rewrote a stream label, the one sharing the most labels)."""
    best: Labels = ()
    best_score = (-1, -1)
    for cand in candidates:
        shared = sum(1 for k, v in cand if merged.get(k) == v)
        score = (1 if shared == len(cand) else 0, shared)
        if score > best_score:
            best, best_score = cand, score
    return best


def _metadata_at(store: _Store, stream: Labels, stamps: set[int]) -> dict[int, list[Labels]]:
    """The structured metadata of ``stream``'s entries at the given timestamps."""
    matchers = [Matcher(MatchType.EQUAL, k, v) for k, v in stream]
    out: dict[int, list[Labels]] = {}
    lo, hi = min(stamps), max(stamps) + 1
    for chunk in store.select(matchers, lo, hi):
        if chunk.labels != stream or chunk.metadata is None:
            continue
        for t, md in zip(chunk.ts.tolist(), chunk.metadata, strict=True):
            if md and t in stamps:
                out.setdefault(t, []).append(md)
    return out


def _split(
    merged: dict[str, str], origin: dict[str, str], candidates: list[Labels]
) -> tuple[Labels, Categories]:
    """(index labels, categories) of one entry."""
    metadata: dict[str, str] = {}
    for md in candidates:
        found: dict[str, str] = {}
        for k, v in md:
            key = k + "_extracted" if k in origin else k
            if merged.get(key) == v:
                found[key] = v
        if len(found) > len(metadata):
            metadata = found
    stream: list[tuple[str, str]] = []
    parsed: dict[str, str] = {}
    for k, v in merged.items():
        if k in metadata:
            continue
        if origin.get(k) == v:
            stream.append((k, v))
        else:
            parsed[k] = v
    cats: Categories = {}
    if metadata:
        cats["structuredMetadata"] = metadata
    if parsed:
        cats["parsed"] = parsed
    return tuple(sorted(stream)), cats


def categorize(
    result: Streams,
    store: _Store,
    matchers: Sequence[Matcher],
    start_ns: int,
    end_ns: int,
    forward: bool,
) -> list[dict[str, Any]]:
    """The ``result`` array of a log query answer in the categorized encoding."""
    if not result.streams:
        return []
    candidates = store.series(matchers, start_ns, end_ns)
    origins = [_origin(dict(s.labels), candidates) for s in result.streams]
    wanted: dict[Labels, set[int]] = {}
    for s, origin in zip(result.streams, origins, strict=True):
        stored = dict(origin)
        if any(k not in stored for k, _ in s.labels):  # beyond the stream labels: look up
            wanted.setdefault(origin, set()).update(t for t, _ in s.entries)
    metadata = {origin: _metadata_at(store, origin, stamps) for origin, stamps in wanted.items()}

    groups: dict[Labels, list[tuple[int, str, Categories]]] = {}
    for s, origin in zip(result.streams, origins, strict=True):
        merged = dict(s.labels)
        origin_map = dict(origin)
        at = metadata.get(origin, {})
        for t, line in s.entries:
            stream, cats = _split(merged, origin_map, at.get(t, []))
            groups.setdefault(stream, []).append((t, line, cats))
    out = []
    for stream, entries in groups.items():
        entries.sort(key=lambda e: e[0], reverse=not forward)
        out.append(
            {"stream": dict(stream), "values": [[str(t), line, c] for t, line, c in entries]}
        )
    return out
