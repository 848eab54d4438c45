"""Per-stream and per-entry checks of a push, with Loki's error messages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tidewatch.labels import Labels
from tidewatch.logs.store.gotime import rfc3339
from tidewatch.logs.store.options import LogStoreOptions
from tidewatch.logs.store.stream_labels import ParsedStream

I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

MISSING_LABELS = "error at least one label pair is required per stream"


def validate_labels(p: ParsedStream, o: LogStoreOptions) -> str | None:
    if not p.labels:
        return MISSING_LABELS
    n = len(p.labels)
    if o.max_label_names_per_series and n > o.max_label_names_per_series:
        return (
            f"entry for stream '{p.text}' has {n} label names; limit {o.max_label_names_per_series}"
        )
    for name, value in p.labels:
        if o.max_label_name_length and len(name) > o.max_label_name_length:
            return f"stream '{p.text}' has label name too long: '{name}'"
        if o.max_label_value_length and len(value) > o.max_label_value_length:
            return f"stream '{p.text}' has label value too long: '{value}'"
    if p.duplicate:
        return f"stream '{p.text}' has duplicate label name: '{p.duplicate}'"
    return None


@dataclass
class EntryCheck:
    keep: Bools | None  # None: every entry passed
    errors: list[str]
    lines: list[str]  # possibly with truncated lines


def _all_fine(ts: I64, lines: list[str], now_ns: int, o: LogStoreOptions) -> bool:
    """The usual push, answered with a few whole-array checks: every time in bounds, no
    line that could be over the size limit (a char is at most 4 UTF-8 bytes)."""
    lo, hi = int(ts.min()), int(ts.max())
    if o.reject_old_samples and lo < now_ns - o.reject_old_samples_max_age_ns:
        return False
    if hi > now_ns + o.creation_grace_period_ns:
        return False
    return not o.max_line_size or max(map(len, lines)) * 4 <= o.max_line_size


def validate_entries(
    p: ParsedStream,
    ts: I64,
    lines: list[str],
    metadata: list[Labels] | None,
    now_ns: int,
    o: LogStoreOptions,
) -> EntryCheck:
    n = len(lines)
    errors: list[str] = []
    if n and not metadata and _all_fine(ts, lines, now_ns, o):
        return EntryCheck(None, errors, lines)
    bad = np.zeros(n, dtype=bool)
    reasons: dict[int, str] = {}
    copied = False
    if o.reject_old_samples:
        oldest = now_ns - o.reject_old_samples_max_age_ns
        for i in np.flatnonzero(ts < oldest).tolist():
            reasons[i] = (
                f"entry for stream '{p.text}' has timestamp too old: {rfc3339(int(ts[i]))}, "
                f"oldest acceptable timestamp is: {rfc3339(oldest)}"
            )
    newest = now_ns + o.creation_grace_period_ns
    for i in np.flatnonzero(ts > newest).tolist():
        reasons.setdefault(
            i, f"entry for stream '{p.text}' has timestamp too new: {rfc3339(int(ts[i]))}"
        )
    if o.max_line_size:
        chars = np.fromiter(map(len, lines), np.int64, n)
        # A line's UTF-8 length is between its char count and 4x that: encode only the unsure.
        maybe = np.flatnonzero(chars * 4 > o.max_line_size).tolist()
        for i in maybe:
            size = len(lines[i].encode())
            if size <= o.max_line_size or i in reasons:
                continue
            if o.max_line_size_truncate:
                lines = list(lines) if not copied else lines
                copied = True
                lines[i] = lines[i].encode()[: o.max_line_size].decode(errors="ignore")
                continue
            reasons[i] = (
                f"Max entry size '{o.max_line_size}' bytes exceeded for stream '{p.text}' "
                f"while adding an entry with length '{size}' bytes"
            )
    if metadata:
        for i, md in enumerate(metadata):
            if not md or i in reasons:
                continue
            if len(md) > o.max_structured_metadata_entries_count > 0:
                reasons[i] = (
                    f"stream '{p.text}' has too many structured metadata labels: '{len(md)}', "
                    f"limit: '{o.max_structured_metadata_entries_count}'. Please see "
                    "`limits_config.max_structured_metadata_entries_count` or contact your "
                    "Loki administrator to increase it."
                )
                continue
            size = sum(len(k) + len(v) for k, v in md)
            if size > o.max_structured_metadata_size > 0:
                reasons[i] = (
                    f"stream '{p.text}' has structured metadata too large: '{size}' bytes, "
                    f"limit: '{o.max_structured_metadata_size}' bytes. Please see "
                    "`limits_config.max_structured_metadata_size` or contact your Loki "
                    "administrator to increase it."
                )
    if not reasons:
        return EntryCheck(None, errors, lines)
    for i in sorted(reasons):
        bad[i] = True
        errors.append(reasons[i])
    return EntryCheck(~bad, errors, lines)


def multi_error(errors: list[str]) -> str:
    """dskit's multierror text: one error as is, several as ``N errors: a; b``."""
    if len(errors) == 1:
        return errors[0]
    return f"{len(errors)} errors: " + "; ".join(errors)


class RateLimiter:
    """Token bucket over pushed line bytes, as Loki's local ingestion rate strategy."""

    def __init__(self, rate_bytes: float, burst_bytes: float) -> None:
        self.rate = rate_bytes
        self.burst = burst_bytes
        self.tokens = burst_bytes
        self.last = 0.0

    def allow(self, n: int, now_s: float) -> bool:
        if self.rate <= 0:
            return True
        if self.last:
            self.tokens = min(self.burst, self.tokens + (now_s - self.last) * self.rate)
        self.last = now_s
        if n > self.tokens:
            return False
        self.tokens -= n
        return True
