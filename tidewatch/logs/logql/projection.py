"""Keep only the labels a metric query's result can show.

``sum by (level) (count_over_time({...} | json [1m]))`` needs each line's ``level``
and nothing else: summing per-line series that differ in other labels gives the same
numbers as counting lines per ``level`` directly. So when an additive range
aggregation sits right under a ``sum``, every line's labels are projected onto the
``by`` labels (or stripped of the ``without`` ones) before grouping, and ``json``
extracts only the projected names (:func:`json_project`).

The error labels always survive the projection: a line that failed to parse still
makes a series with ``__error__`` and the query fails as it would without the
projection (the engine then re-runs unprojected for Loki's exact message).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from tidewatch.labels import Labels
from tidewatch.logs.logql import ast
from tidewatch.logs.logql.parsers import sanitize_key

ERROR = "__error__"
ERROR_DETAILS = "__error_details__"
_ALWAYS = frozenset((ERROR, ERROR_DETAILS))
# Range operations whose per-step values add up across series (sum of counts is the
# count of the union). Float sums are left out: their rounding depends on the order.
ADDITIVE = frozenset(("count_over_time", "rate", "bytes_over_time", "bytes_rate"))
_SIMPLE_KEYS_MAX = 4096


@dataclass(frozen=True)
class Projection:
    """Labels to keep (``by``) or to drop (``without``); the error labels always stay."""

    keep: frozenset[str] | None = None
    drop: frozenset[str] = frozenset()

    def apply(self, labels: dict[str, str]) -> Labels:
        if self.keep is not None:
            keep = self.keep
            return tuple(sorted((k, v) for k, v in labels.items() if k in keep or k in _ALWAYS))
        drop = self.drop
        return tuple(sorted((k, v) for k, v in labels.items() if k not in drop or k in _ALWAYS))

    def apply_labels(self, labels: Labels) -> Labels:
        if self.keep is not None:
            keep = self.keep
            return tuple((k, v) for k, v in labels if k in keep or k in _ALWAYS)
        drop = self.drop
        return tuple((k, v) for k, v in labels if k not in drop or k in _ALWAYS)


def projection_for(agg: ast.VectorAggregation) -> Projection | None:
    """The projection a ``sum`` allows on the range aggregation right under it."""
    inner = agg.expr
    if agg.op != "sum" or not isinstance(inner, ast.RangeAggregation):
        return None
    if inner.op not in ADDITIVE or inner.range.unwrap is not None or inner.grouping is not None:
        return None
    g = agg.grouping
    if g is None:
        return Projection(keep=frozenset())
    if g.without:
        return Projection(drop=frozenset(g.labels) - _ALWAYS)
    return Projection(keep=frozenset(g.labels))


def _filter_names(f: ast.LabelFilterExpr) -> set[str]:
    if isinstance(f, ast.BinaryLabelFilter):
        return _filter_names(f.left) | _filter_names(f.right)
    if isinstance(f, ast.StringLabelFilter):
        return {f.matcher.name}
    return {f.name}


def json_kernel_names(
    stages: Sequence[ast.Stage], projection: Projection | None
) -> frozenset[str] | None:
    """The names a projected pipeline of ``| json`` and then only label filters needs
    extracted, or None when the fast path does not apply (other stages, ``without``,
    names it cannot map back)."""
    if projection is None or projection.keep is None or not stages:
        return None
    first = stages[0]
    if not isinstance(first, ast.JSONParser) or first.extractions:
        return None
    names = set(projection.keep)
    for st in stages[1:]:
        if not isinstance(st, ast.LabelFilterStage):
            return None
        names |= _filter_names(st.expr)
    names -= _ALWAYS  # the error labels are never extracted, only set by a failure
    if any(n.endswith("_extracted") for n in names):
        return None  # a parsed name renamed on a clash: the general path knows the rules
    if projection.keep & _ALWAYS:
        return None
    return frozenset(names)


class JsonProjector:
    """Per-line labels of ``| json`` projected onto a few names, without flattening
    every field: one ``orjson.loads`` and a lookup per name.

    A line takes the fast path only when the result is provably what the full parser
    gives: an object without nested objects, every key already a valid label name, no
    backslash (so no key is spelled two ways), each wanted key quoted once in the text
    (so not duplicated: orjson keeps the last, Loki the first) and no float among the
    wanted values (the full parser keeps a number's source text). Every other line is
    returned as slow for the general pipeline.
    """

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self._simple: set[str] = set()
        # (stream labels, with stream part) -> (json names, stream part, values -> labels)
        self._per_stream: dict[
            tuple[Labels, bool],
            tuple[tuple[str, ...], Labels, dict[tuple[object, ...], Labels]],
        ] = {}

    def _stream_info(
        self, stream: Labels, with_stream: bool
    ) -> tuple[tuple[str, ...], Labels, dict[tuple[object, ...], Labels]]:
        info = self._per_stream.get((stream, with_stream))
        if info is None:
            stream_names = {k for k, _ in stream}
            # A parsed name that is also a stream label becomes `<name>_extracted`: the
            # stream's value is the one kept under the name itself.
            json_names = tuple(sorted(self.names - stream_names))
            part = tuple((k, v) for k, v in stream if k in self.names) if with_stream else ()
            info = self._per_stream[stream, with_stream] = (json_names, part, {})
        return info

    def _all_simple(self, keys: Sequence[str]) -> bool:
        simple = self._simple
        ok = True
        for k in keys:
            if k in simple:
                continue
            if sanitize_key(k) != k:
                ok = False
            elif len(simple) < _SIMPLE_KEYS_MAX:
                simple.add(k)
            else:
                ok = False
        return ok

    def project(
        self, stream: Labels, lines: list[str], idx: list[int], with_stream: bool = True
    ) -> tuple[list[Labels | None], list[int]]:
        """Labels per entry of ``idx`` (None where slow) and the positions that are slow.
        Without ``with_stream``: only the parsed pairs (stream labels are added later)."""
        json_names, part, cache = self._stream_info(stream, with_stream)
        simple = self._simple
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        out: list[Labels | None] = []
        slow: list[int] = []
        single = json_names[0] if len(json_names) == 1 else None
        quoted = [(n, f'"{n}"') for n in json_names]
        for pos, i in enumerate(idx):
            line = lines[i]
            try:
                doc = loads(line)
            except decode_error:
                slow.append(pos)
                out.append(None)
                continue
            if (
                type(doc) is not dict
                or "\\" in line
                or not (doc.keys() <= simple or self._all_simple(list(doc)))
                or dict in map(type, doc.values())
            ):
                slow.append(pos)
                out.append(None)
                continue
            duplicated = False
            for n, q in quoted:
                if n in doc and line.count(q) != 1:
                    duplicated = True
            if duplicated:
                slow.append(pos)
                out.append(None)
                continue
            t: tuple[object, ...]
            if single is not None:
                t = (doc.get(single),)
            else:
                t = tuple(map(doc.get, json_names))
            try:
                lb = cache.get(t)
            except TypeError:  # a list or object value: unhashable
                lb = None
            if lb is None:
                lb = self._convert(json_names, part, t, cache)
                if lb is None:
                    slow.append(pos)
            out.append(lb)
        return out, slow

    @staticmethod
    def _convert(
        names: tuple[str, ...],
        part: Labels,
        values: tuple[object, ...],
        cache: dict[tuple[object, ...], Labels],
    ) -> Labels | None:
        pairs = list(part)
        cacheable = True
        for name, v in zip(names, values, strict=True):
            if isinstance(v, str):
                pairs.append((name, v))
                continue
            cacheable = cacheable and v is None
            if v is True:
                pairs.append((name, "true"))
            elif v is False:
                pairs.append((name, "false"))
            elif isinstance(v, int):
                pairs.append((name, str(v)))
            elif isinstance(v, float):
                return None  # its source text, not Python's repr, is the value
            # None, lists and objects make no label.
        lb = tuple(sorted(pairs))
        # Only str/None tuples are cached: ``True == 1`` would otherwise share entries.
        if cacheable:
            cache[values] = lb
        return lb
