"""Container log formats: ``docker`` (json-file driver) and ``cri`` (containerd, CRI-O).

Both set the ``stream`` label, take the runtime's timestamp and make the message the
line. Both runtimes split long lines into partial records (docker: a ``log`` without
the trailing newline; CRI: flag ``P``); the parts are joined again here, across reads.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
import re2

from tidewatch.config.yamlnodes import MapView
from tidewatch.logs.agent.stages.base import Entry, Stage, StageBuild
from tidewatch.logs.agent.stages.fastre import group_searcher
from tidewatch.logs.agent.stages.gotime import TimeParseError, time_parser

_rfc3339 = time_parser("RFC3339Nano")
_cri_groups = group_searcher(re2.compile(r"^(?s)(\S+?)\s+(stdout|stderr)\s+(\S+?)\s(.*)$"))


def _key(e: Entry) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(e.labels.items()))


class _Partials:
    """Parts of split lines per stream, waiting for their last part."""

    def __init__(self, max_parts: int, max_size: int, truncate: bool) -> None:
        self.pending: dict[tuple[tuple[str, str], ...], tuple[Entry, list[str]]] = {}
        self.max_parts = max_parts
        self.max_size = max_size
        self.truncate = truncate

    def add(self, e: Entry, part: str) -> Entry | None:
        """Keep ``part``; returns the first entry with the joined text when the limit is hit."""
        key = _key(e)
        held = self.pending.get(key)
        if held is None:
            held = self.pending[key] = (e, [])
        held[1].append(part)
        if self.max_parts and len(held[1]) >= self.max_parts:
            del self.pending[key]
            return self._joined(held)
        return None

    def finish(self, e: Entry, last: str) -> tuple[Entry, str]:
        held = self.pending.pop(_key(e), None)
        if held is None:
            return e, self._cap(last)
        return held[0], self._cap("".join(held[1]) + last)

    def _cap(self, text: str) -> str:
        if self.truncate and self.max_size and len(text) > self.max_size:
            return text[: self.max_size]
        return text

    def _joined(self, held: tuple[Entry, list[str]]) -> Entry:
        first, parts = held
        first.line = self._cap("".join(parts))
        first.extracted["output"] = first.line
        return first

    def drain(self) -> list[Entry]:
        out = [self._joined(h) for h in self.pending.values()]
        self.pending.clear()
        return out


class DockerStage(Stage):
    name = "docker"

    def __init__(self) -> None:
        self.partials = _Partials(0, 0, False)

    def process(self, entries: list[Entry]) -> list[Entry]:
        out: list[Entry] = []
        for e in entries:
            try:
                doc: Any = orjson.loads(e.line)
            except orjson.JSONDecodeError:
                out.append(e)  # not a docker record: passed on unchanged, as Promtail does
                continue
            if not isinstance(doc, dict):
                out.append(e)
                continue
            log = doc.get("log")
            stream = doc.get("stream")
            when = doc.get("time")
            if isinstance(stream, str):
                e.labels["stream"] = stream
                e.extracted["stream"] = stream
            if isinstance(when, str):
                e.extracted["timestamp"] = when
                with contextlib.suppress(TimeParseError):
                    e.ts = _rfc3339(when)
            if not isinstance(log, str):
                out.append(e)
                continue
            if not log.endswith("\n"):
                self.partials.add(e, log)
                continue
            first, text = self.partials.finish(e, log[:-1])
            first.line = text
            first.extracted["output"] = text
            out.append(first)
        return out

    def flush(self, now_ns: int, force: bool) -> list[Entry]:
        return self.partials.drain() if force else []


def build_docker(view: MapView, build: StageBuild) -> Stage:
    return DockerStage()


class CRIStage(Stage):
    name = "cri"

    def __init__(self, max_partial_lines: int, max_size: int, truncate: bool) -> None:
        self.partials = _Partials(max_partial_lines, max_size, truncate)

    def process(self, entries: list[Entry]) -> list[Entry]:
        out: list[Entry] = []
        for e in entries:
            found = _cri_groups(e.line)
            if found is None:
                out.append(e)
                continue
            _, when, stream, flags, content = found
            assert when is not None and stream is not None and flags is not None
            content = content or ""
            e.labels["stream"] = stream
            ex = e.extracted
            ex["stream"], ex["flags"], ex["time"], ex["content"] = stream, flags, when, content
            with contextlib.suppress(TimeParseError):
                e.ts = _rfc3339(when)
            if flags == "P":
                done = self.partials.add(e, content)
                if done is not None:
                    out.append(done)
                continue
            first, text = self.partials.finish(e, content)
            first.line = text
            first.extracted["output"] = text
            out.append(first)
        return out

    def flush(self, now_ns: int, force: bool) -> list[Entry]:
        return self.partials.drain() if force else []


def build_cri(view: MapView, build: StageBuild) -> Stage:
    return CRIStage(
        view.uint("max_partial_lines", 100),
        view.size("max_partial_line_size", 0, bare_int_is_bytes=True),
        view.boolean("max_partial_line_size_truncate", False),
    )
