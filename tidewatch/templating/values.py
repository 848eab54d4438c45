"""How Python values behave as Go template values: truth, the "no value" marker."""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import Any


class _Missing:
    """Go's invalid ``reflect.Value``: a missing map key, or nil data. Prints ``<no value>``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def is_true(v: Any) -> bool:
    """Go's template truth: false, 0, nil, and empty strings, slices and maps are false."""
    if v is None or v is MISSING:
        return False
    if isinstance(v, (bool, int, float, complex)):
        return bool(v)
    if isinstance(v, (str, bytes, Mapping, list, tuple, set, frozenset)):
        return len(v) > 0
    if isinstance(v, Sized) and not hasattr(v, "__dataclass_fields__"):
        return len(v) > 0
    return True  # structs, functions, pointers


def to_arg(v: Any) -> Any:
    """A pipeline value as a function argument: the invalid value becomes Go's nil."""
    return None if v is MISSING else v


class SafeHTML(str):
    """Text that HTML-escaping templates print as is (what ``safeHtml`` returns)."""

    __slots__ = ()


# html/template's escaping of text in an HTML element ("+" too, against UTF-7 tricks).
_HTML_TEXT_ESCAPES = str.maketrans(
    {
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
        "'": "&#39;",
        '"': "&#34;",
        "+": "&#43;",
        "\0": "\ufffd",
    }
)


def html_text_escape(s: str) -> str:
    return s.translate(_HTML_TEXT_ESCAPES)
