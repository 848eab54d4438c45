"""Label sets: the identity of a series.

A label set is a tuple of ``(name, value)`` pairs sorted by name, with no empty
values. Tuples are hashable and cheap to compare, so they serve directly as dict
keys in the head, the scrape cache and the query engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Labels = tuple[tuple[str, str], ...]

METRIC_NAME = "__name__"
EMPTY: Labels = ()


def from_dict(d: Mapping[str, str]) -> Labels:
    """Build a label set, dropping empty values as Prometheus does."""
    return tuple(sorted((k, v) for k, v in d.items() if v != ""))


def from_pairs(pairs: Iterable[tuple[str, str]]) -> Labels:
    return from_dict(dict(pairs))


def to_dict(lbls: Labels) -> dict[str, str]:
    return dict(lbls)


def get(lbls: Labels, name: str) -> str:
    """Value of ``name``, or "" when absent (Prometheus's convention)."""
    for k, v in lbls:
        if k == name:
            return v
    return ""


def metric_name(lbls: Labels) -> str:
    return get(lbls, METRIC_NAME)


def without(lbls: Labels, *names: str) -> Labels:
    drop = set(names)
    return tuple(p for p in lbls if p[0] not in drop)


def without_name(lbls: Labels) -> Labels:
    return tuple(p for p in lbls if p[0] != METRIC_NAME)


def keep_only(lbls: Labels, names: Iterable[str]) -> Labels:
    keep = set(names)
    return tuple(p for p in lbls if p[0] in keep)


def with_label(lbls: Labels, name: str, value: str) -> Labels:
    """Set (or, with an empty value, remove) one label."""
    d = dict(lbls)
    if value == "":
        d.pop(name, None)
    else:
        d[name] = value
    return from_dict(d)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _is_legacy_name(name: str) -> bool:
    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] in "_:")):
        return False
    return all(c.isascii() and (c.isalnum() or c in "_:") for c in name)


def format_labels(lbls: Labels) -> str:
    """Render like Prometheus: ``name{a="1", b="2"}``; UTF-8 names are quoted."""
    name = ""
    parts: list[str] = []
    for k, v in lbls:
        if k == METRIC_NAME and _is_legacy_name(v):
            name = v
            continue
        key = k if _is_legacy_name(k) else f'"{_escape(k)}"'
        if k == METRIC_NAME:
            parts.insert(0, f'"{_escape(v)}"')
            continue
        parts.append(f'{key}="{_escape(v)}"')
    if not parts:
        return name if name else "{}"
    return name + "{" + ", ".join(parts) + "}"
