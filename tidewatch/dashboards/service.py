"""One view over provisioned (read-only) and saved dashboards, with Grafana's save rules."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tidewatch.dashboards.model import GENERAL_FOLDER, DashboardRecord, FolderRecord
from tidewatch.dashboards.provisioning import ProvisionResult, ProvisionSource, scan
from tidewatch.dashboards.store import DashboardStore

log = logging.getLogger(__name__)

RESCAN_SECONDS = 10.0


class SaveError(Exception):
    """A refused save, with the HTTP status and Grafana's ``status`` word."""

    def __init__(self, http_status: int, message: str, status: str = "") -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.status = status


class DashboardService:
    """Thread-safe; the HTTP layer calls it from worker threads."""

    def __init__(self, db_path: Path, sources: Callable[[], list[ProvisionSource]]) -> None:
        self._db_path = db_path
        self._sources = sources
        self._store: DashboardStore | None = None
        self._lock = threading.Lock()
        self._provisioned = ProvisionResult()
        self._scanned_at = 0.0

    @property
    def store(self) -> DashboardStore:
        with self._lock:
            if self._store is None:
                self._store = DashboardStore(self._db_path)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def provisioned(self, force: bool = False) -> ProvisionResult:
        # Folders are re-read at most every few seconds, so edited files show up without a restart.
        if force or time.monotonic() - self._scanned_at > RESCAN_SECONDS:
            try:
                result = scan(self._sources())
            except Exception as exc:  # a bad config section must not take the UI down
                log.error("dashboard provisioning failed: %s", exc)
                result = ProvisionResult(errors=[str(exc)])
            for err in result.errors:
                log.warning("dashboard provisioning: %s", err)
            self._provisioned = result
            self._scanned_at = time.monotonic()
        return self._provisioned

    # -- reads -------------------------------------------------------------------

    def folders(self) -> list[FolderRecord]:
        by_uid = {f.uid: f for f in self.provisioned().folders}
        for f in self.store.folders():
            by_uid.setdefault(f.uid, f)
        return sorted(by_uid.values(), key=lambda f: f.title.lower())

    def folder(self, uid: str) -> FolderRecord | None:
        return next((f for f in self.folders() if f.uid == uid), None)

    def all(self) -> list[DashboardRecord]:
        prov = {d.uid: d for d in self.provisioned().dashboards}
        saved = {d.uid: d for d in self.store.all()}
        # A provisioned dashboard saved from the UI (allowUiUpdates) shows the saved copy.
        merged = {
            **prov,
            **{u: d for u, d in saved.items() if u not in prov or prov[u].allow_ui_updates},
        }
        for uid, d in merged.items():
            if uid in prov:
                d.provisioned = True
                d.provisioned_path = prov[uid].provisioned_path
                d.allow_ui_updates = prov[uid].allow_ui_updates
        return sorted(merged.values(), key=lambda d: d.title.lower())

    def get(self, uid: str) -> DashboardRecord | None:
        return next((d for d in self.all() if d.uid == uid), None)

    def search(
        self,
        query: str = "",
        tags: list[str] | None = None,
        uids: list[str] | None = None,
        folder_uids: list[str] | None = None,
        limit: int = 1000,
    ) -> list[DashboardRecord]:
        q = query.lower()
        out = []
        for d in self.all():
            if q and q not in d.title.lower():
                continue
            if tags and not all(t in d.tags for t in tags):
                continue
            if uids and d.uid not in uids:
                continue
            if (
                folder_uids is not None
                and folder_uids
                and (d.folder_uid or "general") not in folder_uids
            ):
                continue
            out.append(d)
        return out[:limit]

    # -- writes ------------------------------------------------------------------

    def save(
        self, dash: dict[str, Any], folder_uid: str = GENERAL_FOLDER, overwrite: bool = False
    ) -> DashboardRecord:
        title = str(dash.get("title") or "").strip()
        if not title:
            raise SaveError(400, "Dashboard title cannot be empty", "empty-name")
        if folder_uid and self.folder(folder_uid) is None:
            raise SaveError(400, "folder not found", "folder-not-found")
        uid = str(dash.get("uid") or "")
        existing = self.get(uid) if uid else None
        if existing is None and dash.get("id") and not uid:
            existing = next((d for d in self.all() if d.id == dash["id"]), None)
            uid = existing.uid if existing else ""
        if existing is not None and existing.provisioned and not existing.allow_ui_updates:
            raise SaveError(400, "Cannot save provisioned dashboard", "provisioned")
        same_title = next(
            (
                d
                for d in self.all()
                if d.folder_uid == folder_uid and d.title.lower() == title.lower() and d.uid != uid
            ),
            None,
        )
        if same_title is not None:
            if not overwrite:
                raise SaveError(
                    412,
                    "A dashboard with the same name in the folder already exists",
                    "name-exists",
                )
            if same_title.provisioned:
                raise SaveError(400, "Cannot save provisioned dashboard", "provisioned")
            self.store.delete(same_title.uid)
        if existing is not None and not overwrite:
            given = dash.get("version")
            if given is not None and int(given) != existing.version:
                raise SaveError(
                    412, "The dashboard has been changed by someone else", "version-mismatch"
                )
        version = existing.version + 1 if existing is not None else 1
        dash = {**dash, "title": title, "uid": uid or secrets.token_hex(7)}
        return self.store.put(dash, folder_uid, version)

    def delete(self, uid: str) -> DashboardRecord:
        d = self.get(uid)
        if d is None:
            raise SaveError(404, "Dashboard not found", "not-found")
        if d.provisioned:
            raise SaveError(
                400, "Dashboard cannot be deleted because it was provisioned", "provisioned"
            )
        self.store.delete(uid)
        return d

    def create_folder(self, title: str, uid: str = "") -> FolderRecord:
        title = title.strip()
        if not title:
            raise SaveError(400, "folder title cannot be empty")
        if any(f.title.lower() == title.lower() for f in self.folders()):
            raise SaveError(409, "a folder with the same name already exists")
        if uid and self.folder(uid) is not None:
            raise SaveError(409, "a folder with the same uid already exists")
        return self.store.create_folder(uid or secrets.token_hex(7), title)
