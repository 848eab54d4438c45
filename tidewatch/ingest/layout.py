"""A target's exposition layout: most scrapes of a target return the same lines with
new values. The layout remembers each line of the last exposition up to its value
(the series text and a space, or the whole line for comments), so a scrape with the
same layout is checked and its values parsed with whole-array numpy operations, with
no Python work per sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tidewatch.labels import Labels
from tidewatch.tsdb.encoding import F64, I64

_NL, _SPACE, _UNDERSCORE, _TAB = 0x0A, 0x20, 0x5F, 0x09
_MAX_VALUE_CHARS = 64


class Layout:
    """Line prefixes of one exposition, and the series its samples go to."""

    __slots__ = (
        "keep",
        "labels",
        "n_samples",
        "openmetrics",
        "prefix_lens",
        "refs",
        "sample_line",
        "template",
        "trailing_newline",
    )

    def __init__(
        self,
        prefixes: list[bytes],
        sample_line: npt.NDArray[np.bool_],
        trailing_newline: bool,
        openmetrics: bool,
        keep: npt.NDArray[np.bool_] | None,
        refs: I64,
        labels: Sequence[Labels],
    ) -> None:
        self.template = np.frombuffer(b"".join(prefixes), np.uint8)
        self.prefix_lens = np.array([len(p) for p in prefixes], np.int64)
        self.sample_line = sample_line
        self.n_samples = int(sample_line.sum())
        self.trailing_newline = trailing_newline
        self.openmetrics = openmetrics
        self.keep = keep  # samples relabeling keeps (None: all)
        self.refs = refs
        self.labels = labels

    def values(self, body: bytes, openmetrics: bool) -> F64 | None:
        """The sample values of ``body`` if it has exactly this layout, else None."""
        if openmetrics != self.openmetrics:
            return None
        arr = np.frombuffer(body, np.uint8)
        ends = np.flatnonzero(arr == _NL)
        nlines = len(self.prefix_lens)
        if self.trailing_newline:
            if len(ends) != nlines or not len(body) or body[-1] != _NL:
                return None
        else:
            if len(ends) != nlines - 1:
                return None
            ends = np.append(ends, len(body))
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        plens = self.prefix_lens
        vlens = ends - starts - plens
        is_sample = self.sample_line
        if (vlens[~is_sample] != 0).any() or (vlens[is_sample] <= 0).any():
            return None
        # Every prefix byte must equal the template: gather them in one go.
        tpl_starts = np.cumsum(plens) - plens
        pos = np.repeat(starts - tpl_starts, plens) + np.arange(len(self.template))
        if not np.array_equal(arr[pos], self.template):
            return None
        # Value tokens into a fixed-width byte matrix, parsed as one string array.
        vstart = (starts + plens)[is_sample]
        vlen = vlens[is_sample]
        width = int(vlen.max()) if len(vlen) else 1
        if width > _MAX_VALUE_CHARS:
            return None
        cols = np.arange(width)
        inside = cols[None, :] < vlen[:, None]
        tok = arr[(vstart[:, None] + cols[None, :])[inside]]
        # A space means a timestamp or exemplar; Go's ParseFloat rejects '_'; a NUL
        # would end a fixed-width string early. All go to the full parser instead.
        if ((tok == _SPACE) | (tok == _UNDERSCORE) | (tok == _TAB) | (tok == 0)).any():
            return None
        mat = np.zeros((len(vlen), width), np.uint8)
        mat[inside] = tok
        vals = parse_decimals(mat)
        if vals is None:
            return None
        return vals if self.keep is None else vals[self.keep]


def parse_decimals(mat: npt.NDArray[np.uint8]) -> F64 | None:
    """Parse a NUL-padded matrix of number tokens, one per row; None if one is invalid.

    Plain decimals of at most 15 digits (nearly every exposition value) are computed
    with array arithmetic: an integer below 2**53 divided by an exact power of ten is
    the correctly rounded value, the same as ``float()``. The rest (exponents, Inf,
    NaN, long numbers) go through numpy's string parser.
    """
    n, width = mat.shape
    digit = (mat >= 0x30) & (mat <= 0x39)
    dot = mat == 0x2E
    sign = (mat[:, 0] == 0x2D) | (mat[:, 0] == 0x2B)
    filled = mat != 0
    other = filled & ~digit & ~dot
    other[:, 0] &= ~sign
    ndigits = digit.sum(axis=1)
    simple = ~other.any(axis=1) & (dot.sum(axis=1) <= 1) & (ndigits > 0) & (ndigits <= 15)
    mant = np.zeros(n, np.int64)
    frac = np.zeros(n, np.int64)
    after_dot = np.zeros(n, bool)
    d = mat.astype(np.int64) - 0x30
    for c in range(width):
        dc = digit[:, c]
        mant = np.where(dc, mant * 10 + d[:, c], mant)
        frac += dc & after_dot
        after_dot |= dot[:, c]
    vals = mant.astype(np.float64) / (10.0 ** frac.clip(0, 22))
    vals = np.where(mat[:, 0] == 0x2D, -vals, vals)
    if not simple.all():
        rest = ~simple
        try:
            vals[rest] = mat[rest].view(f"S{width}").ravel().astype(np.float64)
        except ValueError:
            return None
    return vals


def build_layout(
    body: bytes,
    openmetrics: bool,
    keys: list[bytes],
    kept: list[bool],
    refs: list[int],
    labels: list[Labels],
) -> Layout | None:
    """The layout of an exposition whose samples (``keys``, none with a timestamp) were
    just ingested; ``kept[i]`` tells whether sample i was kept, and ``refs`` and
    ``labels`` describe the kept ones. None when some line does not fit the scheme."""
    lines = body.split(b"\n")
    trailing = bool(lines) and lines[-1] == b""
    if trailing:
        lines.pop()
    if not lines:
        return None
    prefixes: list[bytes] = []
    sample_line = np.zeros(len(lines), bool)
    j, nkeys = 0, len(keys)
    for i, line in enumerate(lines):
        if j < nkeys:
            head, sep, tail = line.rpartition(b" ")
            if sep and tail and head == keys[j]:
                prefixes.append(head + b" ")
                sample_line[i] = True
                j += 1
                continue
        prefixes.append(line)
    if j != nkeys:
        return None
    keep = None if all(kept) else np.array(kept, bool)
    return Layout(
        prefixes, sample_line, trailing, openmetrics, keep, np.array(refs, np.int64), labels
    )
