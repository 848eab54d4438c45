"""Typed reading of composed YAML nodes.

Configs are composed (not constructed) so that every value keeps the line it came
from, and every error can name file, line and field. Scalars are typed the way Go's
yaml.v2 types them for Prometheus: a string field takes any scalar except a boolean
(YAML 1.1 turns an unquoted ``no`` into False, which is never what a user meant for a
name), a bool field takes only YAML booleans, an unsigned field only non-negative ints.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tidewatch.config.errors import ConfigError
from tidewatch.config.size import SizeError, parse_size
from tidewatch.duration import DurationError, parse_duration

try:  # the C composer is ~8x faster; the pure one gives the same nodes
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

TAG_STR = "tag:yaml.org,2002:str"
TAG_INT = "tag:yaml.org,2002:int"
TAG_FLOAT = "tag:yaml.org,2002:float"
TAG_BOOL = "tag:yaml.org,2002:bool"
TAG_NULL = "tag:yaml.org,2002:null"
TAG_MERGE = "tag:yaml.org,2002:merge"

T = TypeVar("T")


def compose(text: str, file: str) -> Node | None:
    """Compose one YAML document; a syntax error becomes a ConfigError with its line."""
    try:
        node: Node | None = yaml.compose(text, Loader=_Loader)
        return node
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.context}: {exc.problem}"
        lines = text.splitlines()
        if 0 < line <= len(lines) and "\t" in lines[line - 1]:
            problem += " (tabs cannot indent YAML; use spaces)"
        raise ConfigError(file, line, "", f"yaml: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, 0, "", f"yaml: {exc}") from None


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def kind_name(node: Node) -> str:
    """Go-style type name for messages: ``!!map``, ``!!seq``, ``!!bool `no```."""
    if isinstance(node, MappingNode):
        return "!!map"
    if isinstance(node, SequenceNode):
        return "!!seq"
    short = "!!" + str(node.tag).rsplit(":", 1)[-1]
    return f"{short} `{node.value}`"


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == TAG_NULL)


def to_python(node: Node | None) -> Any:
    """Plain Python value of a node (for sections kept raw)."""
    if node is None:
        return None
    return SafeConstructor().construct_document(node)


class Ctx:
    """Where nodes come from: the file name shown in errors."""

    __slots__ = ("file",)

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, node: Node | None, path: str, message: str) -> ConfigError:
        return ConfigError(self.file, line_of(node) if node is not None else 0, path, message)

    # --- scalars -------------------------------------------------------------

    def _unmarshal_error(self, node: Node, path: str, into: str) -> ConfigError:
        msg = f"cannot unmarshal {kind_name(node)} into {into}"
        if isinstance(node, ScalarNode) and node.tag == TAG_BOOL and into == "string":
            msg += f' (quote it: "{node.value}")'
        return self.error(node, path, msg)

    def as_str(self, node: Node, path: str) -> str:
        if not isinstance(node, ScalarNode):
            raise self._unmarshal_error(node, path, "string")
        if node.tag == TAG_NULL:
            return ""
        if node.tag == TAG_BOOL:
            raise self._unmarshal_error(node, path, "string")
        return str(node.value)

    def as_bool(self, node: Node, path: str) -> bool:
        if not isinstance(node, ScalarNode) or node.tag != TAG_BOOL:
            raise self._unmarshal_error(node, path, "bool")
        return bool(SafeConstructor().construct_yaml_bool(node))

    def as_int(self, node: Node, path: str, *, unsigned: bool = True) -> int:
        if not isinstance(node, ScalarNode) or node.tag != TAG_INT:
            raise self._unmarshal_error(node, path, "uint" if unsigned else "int")
        value = int(SafeConstructor().construct_yaml_int(node))
        if unsigned and value < 0:
            raise self._unmarshal_error(node, path, "uint")
        return value

    def as_float(self, node: Node, path: str) -> float:
        if not isinstance(node, ScalarNode) or node.tag not in (TAG_INT, TAG_FLOAT):
            raise self._unmarshal_error(node, path, "float64")
        return float(SafeConstructor().construct_yaml_float(node))

    def as_duration(self, node: Node, path: str) -> int:
        text = self.as_str(node, path)
        try:
            return parse_duration(text)
        except DurationError as exc:
            raise self.error(node, path, str(exc)) from None

    def as_size(self, node: Node, path: str, *, bare_int_is_bytes: bool = False) -> int:
        """A byte size (``512MB``, ``1GiB``); a bare YAML int is bytes only where allowed
        (tidewatch's own fields), as Prometheus's fields require a unit."""
        if bare_int_is_bytes and isinstance(node, ScalarNode) and node.tag == TAG_INT:
            return self.as_int(node, path)
        text = self.as_str(node, path)
        try:
            return parse_size(text)
        except SizeError as exc:
            raise self.error(node, path, str(exc)) from None

    # --- collections ---------------------------------------------------------

    def as_seq(self, node: Node, path: str) -> list[tuple[Node, str]]:
        """Items of a sequence with their paths; null is an empty list."""
        if is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            raise self._unmarshal_error(node, path, "a list")
        return [(item, f"{path}[{i}]") for i, item in enumerate(node.value)]

    def as_str_list(self, node: Node, path: str) -> list[str]:
        return [self.as_str(item, p) for item, p in self.as_seq(node, path)]

    def as_map(
        self, node: Node | None, path: str, allowed: Collection[str] | None = None
    ) -> MapView:
        return MapView(self, node, path, allowed)

    def as_str_map(self, node: Node, path: str) -> dict[str, str]:
        view = MapView(self, node, path, None)
        return {k: self.as_str(view.node(k), view.path_of(k)) for k in view.names()}

    def list_of(
        self, node: Node, path: str, decode: Callable[[Node, str], T], *, what: str
    ) -> list[T]:
        out: list[T] = []
        for item, p in self.as_seq(node, path):
            if is_null(item):
                raise self.error(item, p, f"empty or null {what}")
            out.append(decode(item, p))
        return out


class MapView:
    """One YAML mapping: its entries by key, their lines, and typed getters.

    Keys outside ``allowed`` are rejected at once with the nearest known name, as
    Prometheus's strict unmarshalling rejects unknown fields.
    """

    __slots__ = ("_entries", "ctx", "path", "root")

    def __init__(
        self, ctx: Ctx, node: Node | None, path: str, allowed: Collection[str] | None
    ) -> None:
        self.ctx = ctx
        self.root = node
        self.path = path
        self._entries: dict[str, tuple[Node, Node]] = {}
        if is_null(node):
            return
        assert node is not None
        if not isinstance(node, MappingNode):
            raise ctx.error(node, path, f"cannot unmarshal {kind_name(node)} into a mapping")
        self._collect(node, explicit=True)
        if allowed is not None:
            for key, (key_node, _) in self._entries.items():
                if key not in allowed:
                    raise ctx.error(key_node, self.path_of(key), _unknown_field(key, allowed))

    def _collect(self, node: MappingNode, *, explicit: bool) -> None:
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == TAG_MERGE:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag == TAG_NULL:
                raise self.ctx.error(key_node, self.path, "mapping keys must be strings")
            key = str(key_node.value)
            if key in self._entries:
                if not explicit:
                    continue  # merged keys never override explicit ones
                first = line_of(self._entries[key][0])
                raise self.ctx.error(
                    key_node, self.path_of(key), f"duplicate key (first defined at line {first})"
                )
            self._entries[key] = (key_node, value_node)
        for merged in merges:
            sources = merged.value if isinstance(merged, SequenceNode) else [merged]
            for src in sources:
                if not isinstance(src, MappingNode):
                    raise self.ctx.error(src, self.path, "a merge key (<<) needs a mapping")
                self._collect(src, explicit=False)

    # --- lookup --------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._entries)

    def has(self, key: str) -> bool:
        """Present and not null (Go leaves a null field at its default)."""
        entry = self._entries.get(key)
        return entry is not None and not is_null(entry[1])

    def node(self, key: str) -> Node:
        return self._entries[key][1]

    def key_node(self, key: str) -> Node:
        return self._entries[key][0]

    def path_of(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    @property
    def line(self) -> int:
        return line_of(self.root) if self.root is not None else 0

    def line_for(self, key: str) -> int:
        """Line of the key's value when present, else of the mapping itself."""
        if key in self._entries:
            return line_of(self._entries[key][1])
        return self.line

    def error(self, key: str, message: str) -> ConfigError:
        """An error about ``key`` (at its value's line, or the mapping's if absent)."""
        return ConfigError(self.ctx.file, self.line_for(key), self.path_of(key), message)

    def error_here(self, message: str) -> ConfigError:
        return ConfigError(self.ctx.file, self.line, self.path, message)

    # --- typed getters (absent or null -> default) ----------------------------

    def string(self, key: str, default: str = "") -> str:
        return self.ctx.as_str(self.node(key), self.path_of(key)) if self.has(key) else default

    def boolean(self, key: str, default: bool) -> bool:
        return self.ctx.as_bool(self.node(key), self.path_of(key)) if self.has(key) else default

    def uint(self, key: str, default: int = 0) -> int:
        return self.ctx.as_int(self.node(key), self.path_of(key)) if self.has(key) else default

    def number(self, key: str, default: float = 0.0) -> float:
        return self.ctx.as_float(self.node(key), self.path_of(key)) if self.has(key) else default

    def duration(self, key: str, default: int) -> int:
        if not self.has(key):
            return default
        return self.ctx.as_duration(self.node(key), self.path_of(key))

    def size(self, key: str, default: int = 0, *, bare_int_is_bytes: bool = False) -> int:
        if not self.has(key):
            return default
        return self.ctx.as_size(
            self.node(key), self.path_of(key), bare_int_is_bytes=bare_int_is_bytes
        )

    def str_list(self, key: str) -> list[str]:
        return self.ctx.as_str_list(self.node(key), self.path_of(key)) if self.has(key) else []

    def str_map(self, key: str) -> dict[str, str]:
        return self.ctx.as_str_map(self.node(key), self.path_of(key)) if self.has(key) else {}

    def map(self, key: str, allowed: Collection[str] | None = None) -> MapView:
        """A nested mapping (empty when absent)."""
        node = self.node(key) if self.has(key) else None
        return MapView(self.ctx, node, self.path_of(key), allowed)

    def seq(self, key: str) -> list[tuple[Node, str]]:
        return self.ctx.as_seq(self.node(key), self.path_of(key)) if self.has(key) else []

    def list_of(self, key: str, decode: Callable[[Node, str], T], *, what: str) -> list[T]:
        if not self.has(key):
            return []
        return self.ctx.list_of(self.node(key), self.path_of(key), decode, what=what)

    def raw(self, key: str) -> Any:
        return to_python(self.node(key)) if self.has(key) else None


def _unknown_field(key: str, allowed: Collection[str]) -> str:
    msg = f'unknown field "{key}"'
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.75)
    if close:
        msg += f' (did you mean "{close[0]}"?)'
    return msg
