"""The subset of Grafana's HTTP API that dashboard scripts and the UI use.

``/api/health``, ``/api/search``, ``/api/dashboards/uid/<uid>`` (GET, DELETE),
``/api/dashboards/db`` (POST), ``/api/folders``, ``/api/datasources``. Answers have
Grafana's JSON shapes; errors are ``{"message": ...}`` with Grafana's status codes.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

import tidewatch
from tidewatch.dashboards import DashboardRecord, DashboardService, FolderRecord, SaveError
from tidewatch.dashboards.model import GENERAL_FOLDER, slugify
from tidewatch.dashboards.provisioning import ProvisionSource, sources_from_config
from tidewatch.web.services import Services

NO_EXPIRY = "0001-01-01T00:00:00Z"


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def _message(http_status: int, message: str, **extra: Any) -> web.Response:
    return _json({"message": message, **extra}, http_status)


def datasources(base_url: str) -> list[dict[str, Any]]:
    """The built-in sources: every API is on tidewatch's own port."""
    common = {"orgId": 1, "access": "proxy", "url": base_url, "basicAuth": False}
    common |= {"readOnly": True, "jsonData": {}, "typeLogoUrl": ""}
    return [
        {"id": 1, "uid": "tidewatch-prometheus", "name": "tidewatch", "type": "prometheus"}
        | {"typeName": "Prometheus", "isDefault": True}
        | common,
        {"id": 2, "uid": "tidewatch-loki", "name": "tidewatch Loki", "type": "loki"}
        | {"typeName": "Loki", "isDefault": False}
        | common,
        {"id": 3, "uid": "tidewatch-alertmanager", "name": "tidewatch Alertmanager"}
        | {"type": "alertmanager", "typeName": "Alertmanager", "isDefault": False}
        | common
        | {"jsonData": {"implementation": "prometheus"}},
    ]


class GrafanaAPI:
    def __init__(self, services: Services, service: DashboardService | None = None) -> None:
        self.s = services
        self.dashboards = service or DashboardService(
            Path(services.config.storage.path or "data") / "ui" / "tidewatch.db", self._sources
        )

    def _sources(self) -> list[ProvisionSource]:
        cfg = self.s.config  # read each time: a reload may change the section
        return sources_from_config(cfg.sections.get("dashboards"), cfg.source_path)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/health", self.health),
            web.get("/api/search", self.search),
            web.get("/api/dashboards/uid/{uid}", self.get_dashboard),
            web.delete("/api/dashboards/uid/{uid}", self.delete_dashboard),
            web.post("/api/dashboards/db", self.save_dashboard),
            web.post("/api/dashboards/db/", self.save_dashboard),
            web.get("/api/dashboards/tags", self.tags),
            web.get("/api/folders", self.list_folders),
            web.post("/api/folders", self.create_folder),
            web.get("/api/folders/{uid}", self.get_folder),
            web.get("/api/datasources", self.list_datasources),
            web.get("/api/datasources/uid/{uid}", self.datasource_by_uid),
            web.get("/api/datasources/name/{name}", self.datasource_by_name),
        ]

    def _folder_titles(self) -> dict[str, FolderRecord]:
        return {f.uid: f for f in self.dashboards.folders()}

    async def health(self, request: web.Request) -> web.Response:
        return _json({"commit": "", "database": "ok", "version": tidewatch.__version__})

    async def search(self, request: web.Request) -> web.Response:
        q = request.query
        kind = q.get("type", "")
        limit = int(q.get("limit", "1000") or 1000)

        def run() -> list[dict[str, Any]]:
            folders = self._folder_titles()
            out: list[dict[str, Any]] = []
            query = q.get("query", "")
            # Filters that only dashboards have leave folders out, as Grafana does.
            dash_only = any(q.getall(k, []) for k in ("tag", "folderUIDs", "dashboardUIDs"))
            if kind in ("", "dash-folder") and not dash_only:
                for f in folders.values():
                    if query.lower() in f.title.lower():
                        out.append(_folder_hit(f))
            if kind in ("", "dash-db"):
                hits = self.dashboards.search(
                    query,
                    tags=q.getall("tag", []),
                    uids=q.getall("dashboardUIDs", []),
                    folder_uids=q.getall("folderUIDs", []),
                    limit=limit,
                )
                out.extend(_dashboard_hit(d, folders) for d in hits)
            return out[:limit]

        return _json(await asyncio.to_thread(run))

    async def get_dashboard(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]

        def run() -> tuple[DashboardRecord | None, dict[str, FolderRecord]]:
            return self.dashboards.get(uid), self._folder_titles()

        d, folders = await asyncio.to_thread(run)
        if d is None:
            return _message(404, "Dashboard not found")
        folder = folders.get(d.folder_uid)
        meta = {
            "type": "db",
            "canSave": not d.provisioned or d.allow_ui_updates,
            "canEdit": True,
            "canAdmin": True,
            "canStar": False,
            "canDelete": not d.provisioned,
            "slug": d.slug,
            "url": d.url(),
            "expires": NO_EXPIRY,
            "created": d.created or NO_EXPIRY,
            "updated": d.updated or NO_EXPIRY,
            "updatedBy": "admin",
            "createdBy": "admin",
            "version": d.version,
            "hasAcl": False,
            "isFolder": False,
            "folderId": folder.id if folder else 0,
            "folderUid": d.folder_uid,
            "folderTitle": folder.title if folder else "General",
            "folderUrl": folder.url() if folder else "",
            "provisioned": d.provisioned,
            "provisionedExternalId": Path(d.provisioned_path).name if d.provisioned else "",
        }
        dash = {**d.dashboard, "id": d.id, "uid": d.uid, "version": d.version}
        return _json({"dashboard": dash, "meta": meta})

    async def delete_dashboard(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        try:
            d = await asyncio.to_thread(self.dashboards.delete, uid)
        except SaveError as exc:
            return _message(exc.http_status, exc.message)
        return _json({"title": d.title, "message": f"Dashboard {d.title} deleted", "id": d.id})

    async def save_dashboard(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return _message(400, f"bad request data: {exc}")
        if not isinstance(body, dict) or not isinstance(body.get("dashboard"), dict):
            return _message(400, "bad request data: dashboard is required")
        folder_uid = str(body.get("folderUid") or GENERAL_FOLDER)
        folder_id = body.get("folderId")
        overwrite = bool(body.get("overwrite", False))

        def run() -> DashboardRecord:
            nonlocal folder_uid
            if not folder_uid and folder_id:
                match = [f for f in self.dashboards.folders() if f.id == folder_id]
                if not match:
                    raise SaveError(400, "folder not found", "folder-not-found")
                folder_uid = match[0].uid
            return self.dashboards.save(body["dashboard"], folder_uid, overwrite)

        try:
            d = await asyncio.to_thread(run)
        except SaveError as exc:
            extra = {"status": exc.status} if exc.status else {}
            return _message(exc.http_status, exc.message, **extra)
        return _json(
            {
                "id": d.id,
                "uid": d.uid,
                "url": d.url(),
                "status": "success",
                "version": d.version,
                "slug": d.slug,
                "folderUid": d.folder_uid,
            }
        )

    async def tags(self, request: web.Request) -> web.Response:
        counts: dict[str, int] = {}
        for d in await asyncio.to_thread(self.dashboards.all):
            for t in d.tags:
                counts[t] = counts.get(t, 0) + 1
        return _json([{"term": t, "count": n} for t, n in sorted(counts.items())])

    async def list_folders(self, request: web.Request) -> web.Response:
        folders = await asyncio.to_thread(self.dashboards.folders)
        return _json([{"id": f.id, "uid": f.uid, "title": f.title} for f in folders])

    async def get_folder(self, request: web.Request) -> web.Response:
        f = await asyncio.to_thread(self.dashboards.folder, request.match_info["uid"])
        if f is None:
            return _message(404, "folder not found")
        return _json(f.to_api())

    async def create_folder(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return _message(400, f"bad request data: {exc}")
        if not isinstance(body, dict):
            return _message(400, "bad request data")
        try:
            f = await asyncio.to_thread(
                self.dashboards.create_folder,
                str(body.get("title") or ""),
                str(body.get("uid") or ""),
            )
        except SaveError as exc:
            return _message(exc.http_status, exc.message)
        return _json(f.to_api())

    def _base_url(self, request: web.Request) -> str:
        return self.s.config.server.external_url or f"{request.scheme}://{request.host}"

    async def list_datasources(self, request: web.Request) -> web.Response:
        return _json(datasources(self._base_url(request)))

    async def datasource_by_uid(self, request: web.Request) -> web.Response:
        uid = request.match_info["uid"]
        for ds in datasources(self._base_url(request)):
            if ds["uid"] == uid:
                return _json(ds)
        return _message(404, "Data source not found")

    async def datasource_by_name(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        for ds in datasources(self._base_url(request)):
            if ds["name"] == name:
                return _json(ds)
        return _message(404, "Data source not found")


def _folder_hit(f: FolderRecord) -> dict[str, Any]:
    return {
        "id": f.id,
        "uid": f.uid,
        "title": f.title,
        "uri": f"db/{slugify(f.title)}",
        "url": f.url(),
        "slug": "",
        "type": "dash-folder",
        "tags": [],
        "isStarred": False,
        "sortMeta": 0,
    }


def _dashboard_hit(d: DashboardRecord, folders: dict[str, FolderRecord]) -> dict[str, Any]:
    hit: dict[str, Any] = {
        "id": d.id,
        "uid": d.uid,
        "title": d.title,
        "uri": f"db/{d.slug}",
        "url": d.url(),
        "slug": "",
        "type": "dash-db",
        "tags": d.tags,
        "isStarred": False,
        "sortMeta": 0,
    }
    folder = folders.get(d.folder_uid)
    if folder is not None:
        hit |= {
            "folderId": folder.id,
            "folderUid": folder.uid,
            "folderTitle": folder.title,
            "folderUrl": folder.url(),
        }
    return hit
