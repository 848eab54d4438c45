"""Parse-tree nodes. ``str(node)`` renders source the way Go's ``Node.String`` does;
execution errors quote it as their context (``at <.Labels.foo>``)."""

from __future__ import annotations

from typing import Any


class Node:
    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return repr(self.text)


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.nodes: list[Node] = []

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)

    def is_empty(self) -> bool:
        """Only whitespace text: such a definition never replaces an existing one (as Go)."""
        return all(isinstance(n, TextNode) and not n.text.strip() for n in self.nodes)


class DotNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class NilNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class BoolNode(Node):
    __slots__ = ("value",)

    def __init__(self, pos: int, value: bool) -> None:
        super().__init__(pos)
        self.value = value

    def __str__(self) -> str:
        return "true" if self.value else "false"


class NumberNode(Node):
    """A numeric constant; ``value`` is an int or a float as Go's ideal constant rules pick."""

    __slots__ = ("text", "value")

    def __init__(self, pos: int, text: str, value: int | float) -> None:
        super().__init__(pos)
        self.text = text
        self.value = value

    def __str__(self) -> str:
        return self.text


class StringNode(Node):
    __slots__ = ("quoted", "value")

    def __init__(self, pos: int, quoted: str, value: str) -> None:
        super().__init__(pos)
        self.quoted = quoted
        self.value = value

    def __str__(self) -> str:
        return self.quoted


class IdentifierNode(Node):
    __slots__ = ("name",)

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name

    def __str__(self) -> str:
        return self.name


class FieldNode(Node):
    """``.A.B``: idents ["A", "B"]."""

    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: list[str]) -> None:
        super().__init__(pos)
        self.idents = idents

    def __str__(self) -> str:
        return "".join("." + i for i in self.idents)


class VariableNode(Node):
    """``$x.A.B``: idents ["$x", "A", "B"]."""

    __slots__ = ("idents",)

    def __init__(self, pos: int, idents: list[str]) -> None:
        super().__init__(pos)
        self.idents = idents

    def __str__(self) -> str:
        return ".".join(self.idents)


class ChainNode(Node):
    """Fields applied to a non-field term: ``(index . 0).Name``."""

    __slots__ = ("fields", "node")

    def __init__(self, pos: int, node: Node, fields: list[str]) -> None:
        super().__init__(pos)
        self.node = node
        self.fields = fields

    def __str__(self) -> str:
        inner = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return inner + "".join("." + f for f in self.fields)


class CommandNode(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.args: list[Node] = []

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


class PipeNode(Node):
    __slots__ = ("cmds", "decl", "is_assign")

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.decl: list[VariableNode] = []
        self.is_assign = False
        self.cmds: list[CommandNode] = []

    def __str__(self) -> str:
        head = ""
        if self.decl:
            head = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return head + " | ".join(str(c) for c in self.cmds)


class ActionNode(Node):
    __slots__ = ("pipe",)

    def __init__(self, pos: int, pipe: PipeNode) -> None:
        super().__init__(pos)
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class BranchNode(Node):
    keyword = ""
    __slots__ = ("else_list", "list", "pipe")

    def __init__(self, pos: int, pipe: PipeNode, lst: ListNode, else_list: ListNode | None) -> None:
        super().__init__(pos)
        self.pipe = pipe
        self.list = lst
        self.else_list = else_list

    def __str__(self) -> str:
        s = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            s += "{{else}}" + str(self.else_list)
        return s + "{{end}}"


class IfNode(BranchNode):
    keyword = "if"
    __slots__ = ()


class WithNode(BranchNode):
    keyword = "with"
    __slots__ = ()


class RangeNode(BranchNode):
    keyword = "range"
    __slots__ = ()


class BreakNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{break}}"


class ContinueNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{continue}}"


class TemplateNode(Node):
    __slots__ = ("name", "pipe")

    def __init__(self, pos: int, name: str, pipe: PipeNode | None) -> None:
        super().__init__(pos)
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        from tidewatch.templating.lexer import go_quote

        if self.pipe is None:
            return "{{template " + go_quote(self.name) + "}}"
        return "{{template " + go_quote(self.name) + " " + str(self.pipe) + "}}"


# Markers the parser returns for {{end}} and {{else}}; never part of a finished tree.
class EndNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{end}}"


class ElseNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{else}}"


class Tree:
    """One named template body and the source it was parsed from (for error positions)."""

    __slots__ = ("name", "parse_name", "root", "text")

    def __init__(self, name: str, parse_name: str, root: ListNode, text: str) -> None:
        self.name = name
        self.parse_name = parse_name
        self.root = root
        self.text = text

    def location(self, node: Any) -> str:
        """``parse_name:line:col`` with a byte column, as Go's ErrorContext."""
        pos = node.pos
        before = self.text[:pos]
        line = before.count("\n") + 1
        line_start = before.rfind("\n") + 1
        col = len(before[line_start:].encode())
        return f"{self.parse_name}:{line}:{col}"
