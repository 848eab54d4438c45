"""Run a query's leading line filters over a chunk's whole text at once.

A chunk's lines are one newline-joined UTF-8 blob. A literal (``|= "x"``, or a regex
that only asks for one, such as ``|~ "err(or)?"``, see :mod:`.regex_literals`) is found
with ``memmem`` and another regex (``|~ "\\d+ms"``) with one RE2 search over the blob;
after a hit the search jumps to the next line, so the Python work is per matching
line, not per line. Hit offsets map to line numbers with ``searchsorted`` over the
newline offsets. The result is exact, so the pipeline skips the filters it covers.

A regex qualifies only when a match can never span a newline and it cannot match
the empty string (see :func:`blob_regex`); ``^``/``$`` become line anchors with
``(?m)``. The first filter that does not qualify ends the run; the pipeline applies
it and the rest per line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import re2

from tidewatch.logs.logql import ast
from tidewatch.logs.store.memsearch import line_hits
from tidewatch.logs.store.regex_literals import literal_alternatives

Rows = npt.NDArray[np.intp]

_META = set("\\.+*?()|[]{}^$")
# Escapes that cannot match a newline (outside classes): punctuation is handled apart.
_SAFE_ESCAPES = set("dwbBtrfaSQE")
_SAFE_CLASS_ESCAPES = set("dwS")


def _quiet() -> re2.Options:
    opts = re2.Options()
    opts.log_errors = False
    opts.never_capture = True  # only "where does it match" is asked
    return opts


_OPTIONS = _quiet()
_UNANCHORED = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)


def _class_end(p: str, i: int) -> int:
    """Index after the ``]`` closing the class opened at ``p[i]``, or -1 if unsafe:
    a negated class, a POSIX class or an escape that could match a newline."""
    j = i + 1
    if j < len(p) and p[j] == "^":
        return -1
    if j < len(p) and p[j] == "]":
        j += 1  # a leading ']' is a literal
    while j < len(p):
        c = p[j]
        if c == "]":
            return j + 1
        if c == "[" and p.startswith("[:", j):
            return -1
        if c == "\\":
            if j + 1 >= len(p):
                return -1
            e = p[j + 1]
            if e.isalnum() and e not in _SAFE_CLASS_ESCAPES:
                return -1
            j += 2
            continue
        j += 1
    return -1


def _newline_free(p: str) -> bool:
    """True when no match of the pattern can contain a newline (conservative)."""
    if any(ord(c) < 0x20 for c in p):
        return False
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            if i + 1 >= len(p):
                return False
            e = p[i + 1]
            if e.isalnum() and e not in _SAFE_ESCAPES:
                return False  # \s \n \x.. \p.. \C \A \z octal ...
            i += 2
            continue
        if c == "[":
            end = _class_end(p, i)
            if end < 0:
                return False
            i = end
            continue
        if c == "(" and p.startswith("(?", i):
            j = i + 2
            while j < len(p) and (p[j].isalpha() or p[j] == "-"):
                if p[j] in "sm":
                    return False  # (?s): '.' matches a newline; (?-m) unanchors ^ and $
                j += 1
        i += 1
    return True


def blob_regex(pattern: str) -> Any | None:
    """The pattern compiled for searching a newline-joined blob, or None when a search
    over the blob could disagree with searching each line."""
    if not _newline_free(pattern):
        return None
    try:
        rx = re2.compile(("(?m)" + pattern).encode(), _OPTIONS)
    except re2.error:
        return None
    if rx.search(b"") is not None:
        return None  # matches empty: a per-line question with a per-line answer
    return rx


@dataclass(frozen=True)
class _Step:
    """One line filter: a line passes when any matcher hits (none, when negated)."""

    matchers: tuple[bytes | Any, ...]
    negate: bool


@dataclass(frozen=True)
class BlobFilter:
    """The leading line filters a store can apply to a chunk's blob, and a key naming them."""

    steps: tuple[_Step, ...]
    key: tuple[tuple[str, tuple[str, ...]], ...]

    def __len__(self) -> int:
        return len(self.steps)


def _step(f: ast.LineFilter) -> _Step | None:
    if f.op not in ("|=", "!=", "|~", "!~"):
        return None
    matchers: list[bytes | Any] = []
    for v in f.values:
        if v.is_ip or v.text == "" or "\n" in v.text:
            return None
        if f.op in ("|=", "!=") or not any(c in _META for c in v.text):
            matchers.append(v.text.encode())
            continue
        lits = literal_alternatives(v.text)
        if lits is not None:  # e.g. err(or)?: memmem for "err" answers the same
            matchers += [x.encode() for x in lits]
            continue
        rx = blob_regex(v.text)
        if rx is None:
            return None
        matchers.append(rx)
    return _Step(tuple(matchers), f.op in ("!=", "!~"))


def plan(filters: Sequence[ast.LineFilter]) -> BlobFilter | None:
    """The longest prefix of ``filters`` that runs over the blob, or None if empty."""
    steps: list[_Step] = []
    key: list[tuple[str, tuple[str, ...]]] = []
    for f in filters:
        st = _step(f)
        if st is None:
            break
        steps.append(st)
        key.append((f.op, tuple(v.text for v in f.values)))
    if not steps:
        return None
    return BlobFilter(tuple(steps), tuple(key))


def _hit_offsets(raw: bytes, start: int, stop: int, m: bytes | Any) -> list[int]:
    """Offset (into ``raw``) of the first hit in each line that has one."""
    if isinstance(m, bytes):
        return line_hits(raw, start, stop, m)
    # RE2 reads the bytes around the searched range as context (for ^, $ and \b), so
    # the blob is searched as a text of its own.
    blob = raw[start:stop] if start or stop != len(raw) else raw
    out: list[int] = []
    find = blob.find
    pos, end = 0, len(blob)
    # The wrapper's search() builds a match object through a generator per call; its
    # compiled core answers the same question with one call (spans of group 0).
    core = getattr(m, "_regexp", None)
    if core is not None and _UNANCHORED is not None:
        match = core.Match
        while pos < end:
            at = match(_UNANCHORED, blob, pos, end)[0][0]
            if at < 0:
                break
            out.append(at + start)
            nl = find(b"\n", at)
            if nl < 0:
                break
            pos = nl + 1
        return out
    search = m.search
    while pos < end:
        hit = search(blob, pos, end)
        if hit is None:
            break
        at = hit.start()
        out.append(at + start)
        nl = find(b"\n", at)
        if nl < 0:
            break
        pos = nl + 1
    return out


def _rows_by_counting(raw: bytes, start: int, hits: list[int]) -> list[int]:
    """Line number of each (ascending) hit by counting newlines between hits: one
    partial pass at memchr speed, cheaper than indexing every newline for few hits."""
    rows: list[int] = []
    row, prev = 0, start
    count = raw.count
    for at in hits:
        row += count(b"\n", prev, at)
        prev = at
        rows.append(row)
    return rows


def _line_around(raw: bytes, start: int, stop: int, at: int) -> str:
    a = raw.rfind(b"\n", start, at) + 1 or start
    b = raw.find(b"\n", at, stop)
    return raw[a : stop if b == -1 else b].decode()


def filter_lines(
    raw: bytes, start: int, stop: int, n: int, f: BlobFilter
) -> tuple[Rows, list[str]]:
    """Line numbers (ascending) and text of the ``n`` lines in ``raw[start:stop]``
    (joined by newlines) that pass every step of ``f``."""
    first = f.steps[0]
    if len(f.steps) == 1 and not first.negate and len(first.matchers) == 1:
        hits = _hit_offsets(raw, start, stop, first.matchers[0])
        if len(hits) * 64 < n:  # few: no need to index every line
            rows = _rows_by_counting(raw, start, hits)
            lines = [_line_around(raw, start, stop, at) for at in hits]
            return np.asarray(rows, dtype=np.intp), lines
        return _materialise(raw, start, stop, n, _rows_from_hits(raw, start, stop, n, [hits]))
    keep: npt.NDArray[np.bool_] | None = None
    bounds = _line_bounds(raw, start, stop)
    for st in f.steps:
        hit = np.zeros(n, dtype=bool)
        for m in st.matchers:
            offs = _hit_offsets(raw, start, stop, m)
            if offs:
                hit[np.searchsorted(bounds, np.asarray(offs, np.int64), side="right") - 1] = True
        passed = ~hit if st.negate else hit
        keep = passed if keep is None else keep & passed
        if not keep.any():
            break
    assert keep is not None
    return _materialise(raw, start, stop, n, (np.flatnonzero(keep), bounds))


def _line_bounds(raw: bytes, start: int, stop: int) -> npt.NDArray[np.int64]:
    """Offset of every line's start, then ``stop + 1``: line i is
    ``raw[b[i] : b[i + 1] - 1]``."""
    view = np.frombuffer(raw, np.uint8, stop - start, start)
    nl = np.flatnonzero(view == 10).astype(np.int64)
    return np.concatenate(([0], nl + 1, [stop - start + 1])) + start


def _rows_from_hits(
    raw: bytes, start: int, stop: int, n: int, hits: list[list[int]]
) -> tuple[Rows, npt.NDArray[np.int64]]:
    bounds = _line_bounds(raw, start, stop)
    offs = np.asarray(hits[0], np.int64)
    return np.searchsorted(bounds, offs, side="right") - 1, bounds


def _materialise(
    raw: bytes, start: int, stop: int, n: int, found: tuple[Rows, npt.NDArray[np.int64]]
) -> tuple[Rows, list[str]]:
    rows, bounds = found
    if not len(rows):
        return rows, []
    rl = rows.tolist()
    if len(rl) * 4 > n:  # many kept: one split beats a slice per line
        every = raw[start:stop].decode().split("\n")
        return rows, [every[i] for i in rl]
    lo = bounds[rows].tolist()
    hi = (bounds[rows + 1] - 1).tolist()
    return rows, [raw[a:b].decode() for a, b in zip(lo, hi, strict=True)]


Columns = tuple[npt.NDArray[np.int64], list[str], list[Any] | None]


class FilterMemo:
    """One query's filtered chunk reads that kept few lines (a log query reads a chunk
    once per split window). Scoped to a query, so nothing is served stale or warm
    across queries."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self._items: dict[Any, Columns] = {}
        self._bytes = 0
        self.max_bytes = max_bytes

    def get(self, key: Any) -> Columns | None:
        return self._items.get(key)

    def put(self, key: Any, found: Columns, raw_bytes: int) -> None:
        size = sum(map(len, found[1]))
        if size * 8 >= raw_bytes or self._bytes + size > self.max_bytes:
            return
        self._items[key] = found
        self._bytes += size
