"""Grafana's dashboard/folder/search/datasource API over HTTP, with its status codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "dashboards"


def dash(title: str, uid: str | None = None, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"title": title, "panels": [], "schemaVersion": 39, **extra}
    if uid:
        d["uid"] = uid
    return d


async def test_health_and_datasources(make_client: Any) -> None:
    c = await make_client()
    r = await c.get("/api/health")
    assert r.status == 200
    assert (await r.json())["database"] == "ok"
    r = await c.get("/api/datasources")
    sources = await r.json()
    assert {s["type"] for s in sources} == {"prometheus", "loki", "alertmanager"}
    prom = next(s for s in sources if s["type"] == "prometheus")
    assert prom["isDefault"] is True
    assert prom["url"].startswith("http://127.0.0.1:")
    r = await c.get("/api/datasources/uid/tidewatch-loki")
    assert (await r.json())["type"] == "loki"
    r = await c.get("/api/datasources/uid/nope")
    assert r.status == 404


async def test_builtin_dashboards_are_provisioned(make_client: Any) -> None:
    c = await make_client()
    hits = await (await c.get("/api/search", params={"type": "dash-db"})).json()
    titles = {h["title"]: h for h in hits}
    assert {"Host", "tidewatch"} <= set(titles)
    assert titles["Host"]["folderTitle"] == "tidewatch"
    assert titles["Host"]["url"] == "/d/tidewatch-host/host"
    r = await c.get("/api/dashboards/uid/tidewatch-host")
    body = await r.json()
    assert body["meta"]["provisioned"] is True
    assert body["meta"]["canDelete"] is False
    assert body["dashboard"]["uid"] == "tidewatch-host"
    assert len(body["dashboard"]["panels"]) > 10
    # Provisioned dashboards are read-only through the API, as in Grafana.
    r = await c.delete("/api/dashboards/uid/tidewatch-host")
    assert r.status == 400
    r = await c.post("/api/dashboards/db", json={"dashboard": body["dashboard"], "overwrite": True})
    assert r.status == 400
    assert "provisioned" in (await r.json())["message"]


async def test_save_get_update_delete(make_client: Any) -> None:
    c = await make_client()
    r = await c.post("/api/dashboards/db", json={"dashboard": dash("My API", tags=["team"])})
    assert r.status == 200, await r.text()
    saved = await r.json()
    assert saved["status"] == "success"
    assert saved["version"] == 1
    assert saved["slug"] == "my-api"
    uid = saved["uid"]
    assert saved["url"] == f"/d/{uid}/my-api"

    got = await (await c.get(f"/api/dashboards/uid/{uid}")).json()
    assert got["dashboard"]["title"] == "My API"
    assert got["meta"]["provisioned"] is False

    # Updating with the stored version works and bumps it; a stale version is refused.
    d = got["dashboard"] | {"title": "My API v2"}
    r = await c.post("/api/dashboards/db", json={"dashboard": d})
    assert (await r.json())["version"] == 2
    r = await c.post("/api/dashboards/db", json={"dashboard": d})
    assert r.status == 412
    assert (await r.json())["status"] == "version-mismatch"
    r = await c.post("/api/dashboards/db", json={"dashboard": d, "overwrite": True})
    assert r.status == 200
    assert (await r.json())["version"] == 3

    # Another dashboard with the same title in the same folder: name-exists unless overwrite.
    r = await c.post("/api/dashboards/db", json={"dashboard": dash("my api v2")})
    assert r.status == 412
    assert (await r.json())["status"] == "name-exists"

    hits = await (await c.get("/api/search", params={"query": "api v2"})).json()
    assert [h["uid"] for h in hits] == [uid]
    hits = await (await c.get("/api/search", params={"tag": "team"})).json()
    assert [h["uid"] for h in hits] == [uid]

    r = await c.delete(f"/api/dashboards/uid/{uid}")
    assert r.status == 200
    assert (await r.json())["title"] == "My API v2"
    assert (await c.get(f"/api/dashboards/uid/{uid}")).status == 404
    assert (await c.delete(f"/api/dashboards/uid/{uid}")).status == 404


async def test_bad_save_requests(make_client: Any) -> None:
    c = await make_client()
    r = await c.post("/api/dashboards/db", data=b"{not json")
    assert r.status == 400
    r = await c.post("/api/dashboards/db", json={"nodashboard": 1})
    assert r.status == 400
    r = await c.post("/api/dashboards/db", json={"dashboard": {"title": "  "}})
    assert r.status == 400
    r = await c.post("/api/dashboards/db", json={"dashboard": dash("x"), "folderUid": "missing"})
    assert r.status == 400


async def test_folders(make_client: Any) -> None:
    c = await make_client()
    r = await c.post("/api/folders", json={"title": "Team A", "uid": "team-a"})
    assert r.status == 200
    assert (await r.json())["uid"] == "team-a"
    r = await c.post("/api/folders", json={"title": "team a"})
    assert r.status == 409
    folders = await (await c.get("/api/folders")).json()
    assert {"team-a", "tidewatch"} <= {f["uid"] for f in folders}
    r = await c.post(
        "/api/dashboards/db", json={"dashboard": dash("In folder", "inf"), "folderUid": "team-a"}
    )
    assert r.status == 200
    hits = await (await c.get("/api/search", params={"folderUIDs": "team-a"})).json()
    assert [h["uid"] for h in hits] == ["inf"]
    assert hits[0]["folderTitle"] == "Team A"
    assert (await c.get("/api/folders/team-a")).status == 200
    assert (await c.get("/api/folders/nope")).status == 404


async def test_saved_dashboards_survive_restart(make_client: Any) -> None:
    c1 = await make_client()
    r = await c1.post("/api/dashboards/db", json={"dashboard": dash("Keep me", "keep")})
    assert r.status == 200
    c2 = await make_client()  # a new service over the same data dir
    got = await (await c2.get("/api/dashboards/uid/keep")).json()
    assert got["dashboard"]["title"] == "Keep me"


async def test_provisioning_folders_and_provider_files(make_client: Any, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.json").write_text(json.dumps(dash("From folder", "from-folder")))
    (plain / "broken.json").write_text("{oops")
    nested = tmp_path / "nested" / "Databases"
    nested.mkdir(parents=True)
    (nested / "b.json").write_text(json.dumps({"dashboard": dash("Wrapped export", "wrapped")}))
    (nested / "c.json").write_text(json.dumps(dash("No uid")))
    prov_dir = tmp_path / "provisioning"
    prov_dir.mkdir()
    (prov_dir / "dash.yaml").write_text(
        "apiVersion: 1\nproviders:\n  - name: default\n    type: file\n"
        "    options:\n      path: ../nested\n      foldersFromFilesStructure: true\n"
    )
    cfg = tmp_path / "tidewatch.yml"
    cfg.write_text("")
    c = await make_client(
        dashboards={
            "builtin": False,
            "folders": [{"path": "plain", "folder": "Ops"}],
            "providers": ["provisioning/*.yaml"],
        },
        config_path=str(cfg),
    )
    hits = await (await c.get("/api/search", params={"type": "dash-db"})).json()
    by_title = {h["title"]: h for h in hits}
    assert set(by_title) == {"From folder", "Wrapped export", "No uid"}
    assert by_title["From folder"]["folderTitle"] == "Ops"
    assert by_title["Wrapped export"]["folderTitle"] == "Databases"
    # A file without uid gets a stable one.
    uid = by_title["No uid"]["uid"]
    again = await (await c.get(f"/api/dashboards/uid/{uid}")).json()
    assert again["dashboard"]["title"] == "No uid"


async def test_shared_dashboards_import(make_client: Any) -> None:
    files = sorted(SHARED.glob("*.json"))
    if not files:
        return
    c = await make_client()
    for f in files:
        d = json.loads(f.read_text())
        d.pop("id", None)
        r = await c.post("/api/dashboards/db", json={"dashboard": d, "overwrite": True})
        assert r.status == 200, await r.text()
        uid = (await r.json())["uid"]
        got = await (await c.get(f"/api/dashboards/uid/{uid}")).json()
        assert got["dashboard"]["title"] == d["title"]


async def test_ui_index_without_assets_says_how_to_build(make_client: Any, tmp_path: Path) -> None:
    empty = tmp_path / "no-ui"
    empty.mkdir()
    c = await make_client(static_dir=empty)
    r = await c.get("/")
    assert r.status == 503
    text = await r.text()
    assert "npm run build" in text and "pip install" in text
    assert (await c.get("/ui/assets/app.js")).status == 404


async def test_ui_serves_index_and_assets(make_client: Any, tmp_path: Path) -> None:
    built = tmp_path / "built"
    built.mkdir()
    (built / "index.html").write_text("<!doctype html><div id=app></div>")
    (built / "app.js").write_text("console.log(1)")
    c = await make_client(static_dir=built)
    for path in ("/", "/dashboards", "/d/abc/slug", "/admin/users"):
        r = await c.get(path)
        assert r.status == 200
        assert "id=app" in await r.text()
    r = await c.get("/ui/assets/app.js")
    assert r.status == 200
    assert await r.text() == "console.log(1)"
    assert (await c.get("/ui/assets/..%2Fsecret")).status == 404
    assert (await c.get("/ui/assets/.hidden")).status == 404
