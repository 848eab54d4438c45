"""Dashboards read from folders: the built-in ones, ``dashboards:`` in tidewatch.yml, and
Grafana provisioning provider files (``apiVersion: 1`` / ``providers:``) as they are.

``dashboards:`` in tidewatch.yml::

    dashboards:
      builtin: true                 # ship "Host" and "tidewatch" (default true)
      folders:                      # or a plain list of paths
        - path: dashboards/         # relative to the config file
          folder: Team              # folder title; default General
          folders_from_files_structure: false
      providers:                    # Grafana provider files (globs allowed)
        - grafana/provisioning/dashboards/*.yaml
"""

from __future__ import annotations

import glob
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from tidewatch.config.errors import ConfigError
from tidewatch.dashboards.model import (
    GENERAL_FOLDER,
    DashboardRecord,
    FolderRecord,
    stable_id,
    stable_uid,
)

log = logging.getLogger(__name__)

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
BUILTIN_FOLDER = "tidewatch"


@dataclass(frozen=True)
class ProvisionSource:
    path: Path
    folder: str = ""  # folder title; "" = General
    folder_uid: str = ""
    folders_from_files_structure: bool = False
    allow_ui_updates: bool = False


@dataclass
class ProvisionResult:
    dashboards: list[DashboardRecord] = field(default_factory=list)
    folders: list[FolderRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _err(file: str, fld: str, msg: str) -> ConfigError:
    return ConfigError(file, 0, fld, msg)


def _bool(value: Any, file: str, fld: str) -> bool:
    if not isinstance(value, bool):
        raise _err(file, fld, f"must be true or false, got {value!r}")
    return value


def read_provider_file(path: Path) -> list[ProvisionSource]:
    """Grafana's dashboard provider file; relative paths resolve against its directory."""
    name = str(path)
    try:
        doc = yaml.load(path.read_text(), Loader=yaml.CSafeLoader) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise _err(name, "", f"cannot read provider file: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("providers", []), list):
        raise _err(name, "providers", "must be a list of providers")
    out = []
    for i, p in enumerate(doc.get("providers") or []):
        fld = f"providers[{i}]"
        if not isinstance(p, dict):
            raise _err(name, fld, "must be a mapping")
        if p.get("type", "file") != "file":
            log.warning("%s: %s: provider type %r is not supported, skipped", name, fld, p["type"])
            continue
        opts = p.get("options") or {}
        if not isinstance(opts, dict) or not isinstance(opts.get("path"), str):
            raise _err(name, f"{fld}.options.path", "must name a directory")
        out.append(
            ProvisionSource(
                path=(path.parent / opts["path"]).resolve(),
                folder=str(p.get("folder") or ""),
                folder_uid=str(p.get("folderUid") or ""),
                folders_from_files_structure=_bool(
                    opts.get("foldersFromFilesStructure", False),
                    name,
                    f"{fld}.options.foldersFromFilesStructure",
                ),
                allow_ui_updates=_bool(
                    p.get("allowUiUpdates", False), name, f"{fld}.allowUiUpdates"
                ),
            )
        )
    return out


def sources_from_config(section: Any, config_path: str) -> list[ProvisionSource]:
    """The ``dashboards:`` section → sources, built-in dashboards first."""
    file = config_path or "tidewatch.yml"
    base = Path(config_path).resolve().parent if config_path else Path.cwd()
    section = {} if section is None else section
    if isinstance(section, list):
        section = {"folders": section}
    if not isinstance(section, dict):
        raise _err(file, "dashboards", "must be a mapping (folders, providers, builtin)")
    unknown = set(section) - {"builtin", "folders", "providers"}
    if unknown:
        raise _err(file, f"dashboards.{sorted(unknown)[0]}", "unknown field")
    out: list[ProvisionSource] = []
    if _bool(section.get("builtin", True), file, "dashboards.builtin"):
        out.append(ProvisionSource(BUILTIN_DIR, folder=BUILTIN_FOLDER, folder_uid="tidewatch"))
    for i, item in enumerate(section.get("folders") or []):
        fld = f"dashboards.folders[{i}]"
        if isinstance(item, str):
            item = {"path": item}
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise _err(file, fld, "must be a path or a mapping with path")
        out.append(
            ProvisionSource(
                path=(base / item["path"]).resolve(),
                folder=str(item.get("folder") or ""),
                folder_uid=str(item.get("folder_uid") or ""),
                folders_from_files_structure=_bool(
                    item.get("folders_from_files_structure", False),
                    file,
                    f"{fld}.folders_from_files_structure",
                ),
                allow_ui_updates=_bool(
                    item.get("allow_ui_updates", False), file, f"{fld}.allow_ui_updates"
                ),
            )
        )
    for i, pattern in enumerate(section.get("providers") or []):
        if not isinstance(pattern, str):
            raise _err(file, f"dashboards.providers[{i}]", "must be a path or glob")
        for match in sorted(glob.glob(str(base / pattern))):
            out.extend(read_provider_file(Path(match)))
    return out


def _folder(title: str, uid: str, folders: dict[str, FolderRecord]) -> str:
    if not title:
        return GENERAL_FOLDER
    uid = uid or stable_uid("folder:" + title)
    if uid not in folders:
        folders[uid] = FolderRecord(id=stable_id(uid), uid=uid, title=title)
    return uid


def scan(sources: list[ProvisionSource]) -> ProvisionResult:
    """Read every ``*.json`` under each source; a bad file is reported, never fatal."""
    result = ProvisionResult()
    folders: dict[str, FolderRecord] = {}
    seen: set[str] = set()
    for src in sources:
        if not src.path.is_dir():
            result.errors.append(f"{src.path}: dashboards folder does not exist")
            continue
        for file in sorted(src.path.rglob("*.json")):
            rel_parent = file.parent.relative_to(src.path)
            title = src.folder
            uid_hint = src.folder_uid
            if src.folders_from_files_structure and rel_parent.parts:
                title, uid_hint = rel_parent.parts[0], ""
            try:
                dash = orjson.loads(file.read_bytes())
            except (OSError, orjson.JSONDecodeError) as exc:
                result.errors.append(f"{file}: {exc}")
                continue
            if isinstance(dash, dict) and isinstance(dash.get("dashboard"), dict):
                dash = dash["dashboard"]  # an export wrapped as {"dashboard": ..., "meta": ...}
            if not isinstance(dash, dict) or not dash.get("title"):
                result.errors.append(f"{file}: not a dashboard (no title)")
                continue
            uid = str(dash.get("uid") or stable_uid(str(file)))
            if uid in seen:
                result.errors.append(f"{file}: dashboard uid {uid!r} already provisioned")
                continue
            seen.add(uid)
            dash["uid"] = uid
            dash["id"] = stable_id(uid)
            dash.setdefault("version", 1)
            result.dashboards.append(
                DashboardRecord(
                    id=dash["id"],
                    uid=uid,
                    title=str(dash["title"]),
                    dashboard=dash,
                    folder_uid=_folder(title, uid_hint, folders),
                    version=int(dash.get("version") or 1),
                    provisioned=True,
                    provisioned_path=str(file),
                    allow_ui_updates=src.allow_ui_updates,
                    tags=[str(t) for t in dash.get("tags") or []],
                )
            )
    result.folders = list(folders.values())
    return result
