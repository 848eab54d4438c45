"""Reading file_sd target files (Prometheus's format, JSON or YAML):

    [{"targets": ["host:9100", ...], "labels": {"env": "prod"}}, ...]

The ingest package's file discovery calls :func:`load_file_sd` whenever a file changes.
Each group gets the ``__meta_filepath`` label, as Prometheus adds it.
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

import yaml
from yaml.nodes import Node

from tidewatch.config.errors import ConfigError
from tidewatch.config.model import FileSDConfig, StaticConfig
from tidewatch.config.relabel import is_valid_label_name
from tidewatch.config.yamlnodes import Ctx, compose, is_null

META_FILEPATH = "__meta_filepath"
_JSON_EXT = (".json", ".JSON")
_YAML_EXT = (".yml", ".yaml", ".YML", ".YAML")


def file_sd_paths(cfg: FileSDConfig) -> list[str]:
    """The files a file_sd config names now (its patterns expanded, sorted, unique)."""
    found: set[str] = set()
    for pattern in cfg.files:
        found.update(glob.glob(pattern))
    return sorted(found)


def load_file_sd(path: str, *, utf8_names: bool = False) -> list[StaticConfig]:
    """Target groups from one file_sd file; ConfigError names file, line and field."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, 0, "", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, 0, "", f"file is not UTF-8: {exc.reason}") from None
    return load_file_sd_text(text, path, utf8_names=utf8_names)


def load_file_sd_text(text: str, path: str, *, utf8_names: bool = False) -> list[StaticConfig]:
    if path.endswith(_JSON_EXT):
        root = _compose_json(text, path)
        strict_strings = True
    elif path.endswith(_YAML_EXT):
        root = compose(text, path)
        strict_strings = False
    else:
        raise ConfigError(path, 0, "", "invalid file extension (want .json, .yml or .yaml)")
    ctx = Ctx(path)
    groups: list[StaticConfig] = []
    for item, item_path in ctx.as_seq(root, "") if root is not None else []:
        if is_null(item):
            raise ctx.error(item, item_path, "nil target group item found")
        groups.append(_group(ctx, item, item_path, path, strict_strings, utf8_names))
    return groups


def _compose_json(text: str, path: str) -> Node | None:
    """JSON through the YAML composer keeps line numbers; json.loads gives the exact
    error for malformed JSON (and a fallback for JSON YAML cannot read)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(path, exc.lineno, "", f"invalid JSON: {exc.msg}") from None
    try:
        return compose(text, path)
    except ConfigError:
        pass
    try:  # tab indentation is JSON but not YAML (JSON strings cannot hold raw tabs)
        return compose(text.replace("\t", " "), path)
    except ConfigError:  # some other JSON-only spelling: same structure, lines lost
        return compose(yaml.safe_dump(json.loads(text)), path)


def _group(
    ctx: Ctx, node: Node, path: str, file: str, strict_strings: bool, utf8: bool
) -> StaticConfig:
    view = ctx.as_map(node, path, None if strict_strings else {"targets", "labels"})
    targets: list[str] = []
    for item, item_path in view.seq("targets"):
        if strict_strings and item.tag != "tag:yaml.org,2002:str":
            raise ctx.error(item, item_path, "a target must be a JSON string")
        targets.append(ctx.as_str(item, item_path))
    labels: dict[str, str] = {}
    lv = view.map("labels")
    for name in lv.names():
        value_node = lv.node(name)
        if strict_strings and value_node.tag != "tag:yaml.org,2002:str":
            raise lv.error(name, "a label value must be a JSON string")
        if not is_valid_label_name(name, utf8):
            raise ctx.error(
                lv.key_node(name), lv.path_of(name), f'"{name}" is not a valid label name'
            )
        labels[name] = ctx.as_str(value_node, lv.path_of(name))
    labels[META_FILEPATH] = file
    return StaticConfig(targets=targets, labels=labels)
