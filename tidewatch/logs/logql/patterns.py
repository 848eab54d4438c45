"""Loki's pattern language: ``<name>`` captures, ``<_>`` skips, literals between.

Used both by the ``pattern`` parser stage (captures) and by the ``|>``/``!>`` line
filters (a whole-line test).
"""

from __future__ import annotations

from dataclasses import dataclass

from tidewatch.matcher import compile_anchored

_NAME_OK = compile_anchored(r"[a-zA-Z_][a-zA-Z0-9_]*")


class PatternError(ValueError):
    pass


@dataclass(frozen=True)
class Capture:
    name: str  # "_" for an unnamed capture

    @property
    def unnamed(self) -> bool:
        return self.name == "_"


Node = Capture | str


def _split(pattern: str) -> list[Node]:
    nodes: list[Node] = []
    lit: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        if pattern[i] == "<":
            end = pattern.find(">", i + 1)
            if end > i + 1 and _NAME_OK.match(pattern[i + 1 : end]):
                if lit:
                    nodes.append("".join(lit))
                    lit = []
                nodes.append(Capture(pattern[i + 1 : end]))
                i = end + 1
                continue
        lit.append(pattern[i])
        i += 1
    if lit:
        nodes.append("".join(lit))
    return nodes


def compile_pattern(pattern: str, need_capture: bool) -> list[Node]:
    nodes = _split(pattern)
    names: set[str] = set()
    prev_capture = False
    for node in nodes:
        if isinstance(node, Capture):
            if prev_capture:
                raise PatternError("found consecutive capture: " + pattern)
            prev_capture = True
            if not node.unnamed:
                if node.name in names:
                    raise PatternError(f"duplicate capture name ({node.name}): " + pattern)
                names.add(node.name)
        else:
            prev_capture = False
    if need_capture and not names:
        raise PatternError("at least one capture is required: " + pattern)
    return nodes


def pattern_captures(nodes: list[Node], line: str) -> list[tuple[str, str]]:
    """Captures of ``line``: a leading literal must prefix it; a missed literal makes
    the capture before it take the rest of the line (so short lines fill early captures)."""
    out: list[tuple[str, str]] = []
    if not line or not nodes:
        return out
    i = 0
    rest = line
    if isinstance(nodes[0], str):
        if not rest.startswith(nodes[0]):
            return out
        rest = rest[len(nodes[0]) :]
        i = 1
    while i < len(nodes):
        cap = nodes[i]
        assert isinstance(cap, Capture)
        if i + 1 >= len(nodes):
            if not cap.unnamed:
                out.append((cap.name, rest))
            return out
        lit = nodes[i + 1]
        assert isinstance(lit, str)
        j = rest.find(lit)
        if j < 0:
            if not cap.unnamed:
                out.append((cap.name, rest))
            return out
        if not cap.unnamed:
            out.append((cap.name, rest[:j]))
        rest = rest[j + len(lit) :]
        i += 2
    return out


def pattern_test(nodes: list[Node], line: str) -> bool:
    """Whether the whole ``line`` matches: every literal in order, no empty capture."""
    if not line or not nodes:
        return not line and not nodes
    off = 0
    for idx, node in enumerate(nodes):
        if not isinstance(node, str):
            continue
        j = line.find(node, off)
        if j < 0:
            return False
        if idx == 0 and j != 0:
            return False
        if idx != 0 and j == off:
            return False  # the capture before this literal would be empty
        off = j + len(node)
    if isinstance(nodes[-1], str):
        return off == len(line)
    return off != len(line)
