"""``multiline``: joins a line that starts a block (``firstline``) with the lines after
it, until the next first line, ``max_lines``, or ``max_wait_time`` without a new line."""

from __future__ import annotations

import time
from typing import Any

from tidewatch.config.yamlnodes import MapView
from tidewatch.logs.agent.stages.base import Entry, Stage, StageBuild, compile_regex_field
from tidewatch.logs.agent.stages.fastre import searcher


class _Block:
    __slots__ = ("first", "last_ns", "lines")

    def __init__(self, first: Entry, now_ns: int) -> None:
        self.first = first
        self.lines = [first.line]
        self.last_ns = now_ns


class MultilineStage(Stage):
    name = "multiline"

    def __init__(self, regex: Any, max_wait_ns: int, max_lines: int) -> None:
        self.is_first = searcher(regex)
        self.max_wait_ns = max_wait_ns
        self.max_lines = max_lines
        self.blocks: dict[tuple[tuple[str, str], ...], _Block] = {}

    @staticmethod
    def _release(block: _Block) -> Entry:
        e = block.first
        e.line = "\n".join(block.lines)
        return e

    def process(self, entries: list[Entry]) -> list[Entry]:
        now = time.monotonic_ns()
        out: list[Entry] = []
        blocks = self.blocks
        for e in entries:
            key = tuple(sorted(e.labels.items()))
            block = blocks.get(key)
            if block is None or self.is_first(e.line):
                if block is not None:
                    out.append(self._release(block))
                blocks[key] = _Block(e, now)
                continue
            block.lines.append(e.line)
            block.last_ns = now
            if len(block.lines) >= self.max_lines:
                out.append(self._release(block))
                del blocks[key]
        return out

    def flush(self, now_ns: int, force: bool) -> list[Entry]:
        # Waiting time is measured on the monotonic clock, not on the lines' timestamps.
        now = time.monotonic_ns()
        due = [k for k, b in self.blocks.items() if force or now - b.last_ns >= self.max_wait_ns]
        return [self._release(self.blocks.pop(k)) for k in due]


def build_multiline(view: MapView, build: StageBuild) -> Stage:
    first = view.string("firstline")
    if not first:
        raise view.error(
            "firstline", "multiline stage config must define `firstline` regular expression"
        )
    rx = compile_regex_field(view, "firstline", first)
    wait_ms = view.duration("max_wait_time", 3000)
    if wait_ms <= 0:
        raise view.error("max_wait_time", "multiline stage config must define `max_wait_time` > 0")
    return MultilineStage(rx, wait_ms * 1_000_000, view.uint("max_lines", 128) or 128)
