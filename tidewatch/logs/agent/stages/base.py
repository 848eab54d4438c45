"""What every pipeline stage shares: the entry in flight, the stage interface, the pipeline.

Stages work on batches (one read of one file), so per-batch costs such as looking up a
stream's state or converting labels happen once per batch, not once per line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from yaml.nodes import Node

from tidewatch.config.yamlnodes import Ctx, MapView
from tidewatch.matcher import RegexError, compile_regex


class Entry:
    """One log line in flight, as Promtail's pipeline sees it.

    ``extracted`` starts as a copy of the labels (Promtail does the same, so a stage can
    read ``filename``); parsers add to it, and later stages turn it into labels,
    metadata, a timestamp or the line.
    """

    __slots__ = ("extracted", "labels", "line", "metadata", "ts")

    def __init__(
        self,
        labels: dict[str, str],
        ts: int,
        line: str,
        metadata: dict[str, str] | None = None,
        extracted: dict[str, Any] | None = None,
    ) -> None:
        self.labels = labels
        self.ts = ts
        self.line = line
        self.metadata = metadata if metadata is not None else {}
        self.extracted: dict[str, Any] = extracted if extracted is not None else dict(labels)

    def __repr__(self) -> str:
        return f"Entry({self.labels!r}, {self.ts}, {self.line!r}, {self.metadata!r})"


@dataclass
class PipelineStats:
    """Counters shared by the stages of one pipeline (read by the agent's self metrics)."""

    dropped: Counter[str] = field(default_factory=Counter)  # reason -> lines
    delay_s: float = 0.0  # back-pressure asked for by a non-dropping `limit` stage


class Stage:
    """A pipeline stage; stateless stages only override :meth:`process`."""

    name = "stage"

    def process(self, entries: list[Entry]) -> list[Entry]:
        raise NotImplementedError

    def flush(self, now_ns: int, force: bool) -> list[Entry]:
        """Entries held back (multiline) that are due at ``now_ns`` (all when ``force``)."""
        return []


class Pipeline:
    """Stages in order; entries a stage releases on :meth:`flush` go on through the rest."""

    def __init__(self, stages: list[Stage], stats: PipelineStats | None = None) -> None:
        self.stages = stages
        self.stats = stats if stats is not None else PipelineStats()
        self._stateful = [i for i, s in enumerate(stages) if type(s).flush is not Stage.flush]

    def __len__(self) -> int:
        return len(self.stages)

    def process(self, entries: list[Entry], start: int = 0) -> list[Entry]:
        for stage in self.stages[start:]:
            if not entries:
                break
            entries = stage.process(entries)
        return entries

    def flush(self, now_ns: int, force: bool = False) -> list[Entry]:
        out: list[Entry] = []
        for i in self._stateful:
            released = self.stages[i].flush(now_ns, force)
            if released:
                out.extend(self.process(released, i + 1))
        return out


def get_string(value: Any) -> str:
    """Promtail's conversion of an extracted value to text (numbers as Go's %f, shortest)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "+Inf" if value > 0 else "-Inf"
        return str(np.format_float_positional(value, trim="-"))
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"can't convert {value!r} to string")


def source_value(e: Entry, source: str) -> str | None:
    """The text a stage works on: ``extracted[source]``, or the line when no source is set."""
    if not source:
        return e.line
    if source not in e.extracted:
        return None
    try:
        return get_string(e.extracted[source])
    except TypeError:
        return None


class StageBuild:
    """What a stage builder gets besides its own YAML: the file context for errors, the
    pipeline's shared counters, and a way to build nested stage lists (``match``)."""

    def __init__(
        self,
        ctx: Ctx,
        stats: PipelineStats,
        nested: Callable[[Node, str], list[Stage]],
    ) -> None:
        self.ctx = ctx
        self.stats = stats
        # Set by the registry (stages/__init__), which knows every stage kind.
        self.nested = nested


def compile_regex_field(view: MapView, key: str, pattern: str) -> Any:
    """An RE2 regex (unanchored, as Go's regexp) or a config error on ``key``'s line."""
    try:
        return compile_regex(pattern)
    except RegexError as exc:
        raise view.error(key, f"could not compile regular expression: {exc}") from None
