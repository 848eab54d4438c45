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
        "run_is_prefix",
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
        # Per line, three runs of bytes: prefix, value, newline.
        self.run_is_prefix = np.tile(np.array([True, False, False]), len(prefixes))
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
        vlen = vlens[is_sample]
        # The body as runs of (prefix, value, newline) per line: prefixes must be exactly
        # the template, values are the tokens.
        runs = np.empty((nlines, 3), np.int64)
        runs[:, 0] = plens
        runs[:, 1] = vlens
        runs[:, 2] = 1
        if not self.trailing_newline:
            runs[-1, 2] = 0
        runs_flat = runs.ravel()
        in_prefix = np.repeat(self.run_is_prefix, runs_flat)
        if not np.array_equal(arr[in_prefix], self.template):
            return None
        in_value = np.repeat(~self.run_is_prefix, runs_flat)
        in_value[ends] = False
        # Value tokens into a fixed-width byte matrix (row-major order is body order).
        width = int(vlen.max()) if len(vlen) else 1
        if width > _MAX_VALUE_CHARS:
            return None
        tok = arr[in_value]
        # A space means a timestamp or exemplar; Go's ParseFloat rejects '_'; a NUL
        # would end a fixed-width string early. All go to the full parser instead.
        if ((tok == _SPACE) | (tok == _UNDERSCORE) | (tok == _TAB) | (tok == 0)).any():
            return None
        inside = np.arange(width)[None, :] < vlen[:, None]
        mat = np.zeros((len(vlen), width), np.uint8)
        mat[inside] = tok
        try:  # numpy's string parser accepts what float() does
            vals = mat.view(f"S{width}").ravel().astype(np.float64)
        except ValueError:
            return None
        return vals if self.keep is None else vals[self.keep]


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
