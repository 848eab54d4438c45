"""Progress of long work, shown to the person waiting for it."""

from __future__ import annotations

import sys


class ProgressPrinter:
    """Shows long work (WAL replay, backup, import) on stderr: an updating line on a
    terminal, a line per 10% step in a log file."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def __call__(self, phase: str, fraction: float) -> None:
        if sys.stderr.isatty():
            end = "\n" if fraction >= 1 else ""
            print(f"\r{phase}: {fraction * 100:5.1f}%", end=end, file=sys.stderr, flush=True)
            return
        step = int(fraction * 10)
        if self._last.get(phase) != step:
            self._last[phase] = step
            print(f"{phase}: {fraction * 100:.0f}%", file=sys.stderr, flush=True)
