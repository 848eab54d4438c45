"""The records dashboards and folders are kept as, whatever their source."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from typing import Any

GENERAL_FOLDER = ""  # folder uid of Grafana's "General" (no folder)


def slugify(title: str) -> str:
    """Grafana's slug: lower case, ASCII, words joined by '-'."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    out: list[str] = []
    dash = False
    for ch in text:
        if ch.isalnum():
            out.append(ch)
            dash = False
        elif not dash and out:
            out.append("-")
            dash = True
    return "".join(out).strip("-")


def stable_uid(seed: str) -> str:
    """A uid for a dashboard file that has none: the same file always gets the same one."""
    return hashlib.sha1(seed.encode()).hexdigest()[:14]


def stable_id(uid: str) -> int:
    # Provisioned dashboards have no database row; ids above 2**30 keep clear of rowids.
    return (1 << 30) + int(hashlib.sha1(uid.encode()).hexdigest()[:7], 16)


@dataclass
class FolderRecord:
    id: int
    uid: str
    title: str
    created: str = ""
    updated: str = ""
    version: int = 1

    def url(self) -> str:
        return f"/dashboards/f/{self.uid}/{slugify(self.title)}"

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uid": self.uid,
            "title": self.title,
            "url": self.url(),
            "hasAcl": False,
            "canSave": True,
            "canEdit": True,
            "canAdmin": True,
            "canDelete": True,
            "created": self.created,
            "updated": self.updated,
            "version": self.version,
        }


@dataclass
class DashboardRecord:
    id: int
    uid: str
    title: str
    dashboard: dict[str, Any]
    folder_uid: str = GENERAL_FOLDER
    version: int = 1
    created: str = ""
    updated: str = ""
    provisioned: bool = False
    provisioned_path: str = ""
    allow_ui_updates: bool = False
    tags: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return slugify(self.title)

    def url(self) -> str:
        return f"/d/{self.uid}/{self.slug}"
