"""Stages that set or remove labels: ``labels``, ``structured_metadata``,
``static_labels``, ``labelallow``, ``labeldrop``."""

from __future__ import annotations

from tidewatch.config.relabel import is_legacy_label_name
from tidewatch.config.yamlnodes import MapView
from tidewatch.logs.agent.stages.base import Entry, Stage, StageBuild, get_string


def _label_map(view: MapView, what: str) -> dict[str, str]:
    """``{label: source}`` for the whole stage body; an empty source means the label's name."""
    out: dict[str, str] = {}
    for name in view.names():
        if not is_legacy_label_name(name):
            raise view.error(name, f"invalid label name: {name}")
        out[name] = view.string(name) or name
    if not out:
        raise view.error_here(f"{what} stage needs at least one label")
    return out


class LabelsStage(Stage):
    """Copy extracted values into labels (or, as ``structured_metadata``, into metadata)."""

    def __init__(self, mapping: dict[str, str], into_metadata: bool) -> None:
        self.pairs = list(mapping.items())
        self.into_metadata = into_metadata
        self.name = "structured_metadata" if into_metadata else "labels"

    def process(self, entries: list[Entry]) -> list[Entry]:
        pairs, meta = self.pairs, self.into_metadata
        for e in entries:
            ex = e.extracted
            target = e.metadata if meta else e.labels
            for name, src in pairs:
                if src not in ex:
                    continue
                try:
                    value = get_string(ex[src])
                except TypeError:
                    continue
                if value == "":
                    continue  # an empty value means "no label"
                target[name] = value
        return entries


def build_labels(view: MapView, build: StageBuild) -> Stage:
    return LabelsStage(_label_map(view, "labels"), False)


def build_structured_metadata(view: MapView, build: StageBuild) -> Stage:
    return LabelsStage(_label_map(view, "structured_metadata"), True)


class StaticLabelsStage(Stage):
    name = "static_labels"

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            e.labels.update(self.values)
        return entries


def build_static_labels(view: MapView, build: StageBuild) -> Stage:
    values: dict[str, str] = {}
    for name in view.names():
        if not is_legacy_label_name(name):
            raise view.error(name, f"invalid label name: {name}")
        value = view.string(name)
        if value:
            values[name] = value
    return StaticLabelsStage(values)


class LabelFilterStage(Stage):
    """``labelallow`` keeps only the listed labels; ``labeldrop`` removes them."""

    def __init__(self, names: list[str], allow: bool) -> None:
        self.names = frozenset(names)
        self.allow = allow
        self.name = "labelallow" if allow else "labeldrop"

    def process(self, entries: list[Entry]) -> list[Entry]:
        names, allow = self.names, self.allow
        for e in entries:
            lb = e.labels
            for k in [k for k in lb if (k in names) != allow]:
                del lb[k]
        return entries


def _name_list(view: MapView, what: str) -> list[str]:
    node = view.root
    assert node is not None
    names = view.ctx.as_str_list(node, view.path)
    if not names:
        raise view.error_here(f"{what} needs at least one label name")
    return names


def build_labelallow(view: MapView, build: StageBuild) -> Stage:
    return LabelFilterStage(_name_list(view, "labelallow"), True)


def build_labeldrop(view: MapView, build: StageBuild) -> Stage:
    return LabelFilterStage(_name_list(view, "labeldrop"), False)
