"""Serves the built web UI: the single-page app at ``/`` and its assets.

The assets are built from ``ui/`` by the package build (``setup.py``) into
``tidewatch/web/static/``; a source checkout where only ``npm run build`` ran in
``ui/`` serves ``ui/dist/`` instead. Node is never needed at run time.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tidewatch.web.services import Services

PACKAGE_STATIC = Path(__file__).resolve().parent / "static"
SOURCE_DIST = Path(__file__).resolve().parents[2] / "ui" / "dist"

# Paths the single-page app routes itself; each answers index.html.
APP_PATHS = (
    "/",
    "/dashboards",
    "/dashboards/{tail:.*}",
    "/d/{tail:.*}",
    "/explore",
    "/alerting",
    "/targets",
    "/status",
    "/admin",
    "/admin/{tail:.*}",
)

MISSING_TEXT = """<!doctype html>
<html><head><meta charset="utf-8"><title>tidewatch: web UI not built</title></head>
<body style="font-family:sans-serif;background:#111217;color:#ccccdc;padding:2em">
<h1>The tidewatch web UI is not built</h1>
<p>This tidewatch was installed without its web UI assets. Every API works; only the
pages are missing. To build them, install from a source tree with Node.js 20 and npm
available, which runs the UI build:</p>
<pre>pip install .        # or: pip install -e .</pre>
<p>or build them in place in a source checkout:</p>
<pre>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</pre>
</body></html>
"""


def find_static_dir(candidates: tuple[Path, ...] = (PACKAGE_STATIC, SOURCE_DIST)) -> Path | None:
    """The first directory that holds a built UI (index.html + app.js), if any."""
    for d in candidates:
        if (d / "index.html").is_file() and (d / "app.js").is_file():
            return d
    return None


class UIRoutes:
    def __init__(self, services: Services, static_dir: Path | None = None) -> None:
        self.s = services
        self._fixed_dir = static_dir

    def static_dir(self) -> Path | None:
        # Looked up per request so a UI built after start-up is served without a restart.
        if self._fixed_dir is not None:
            return find_static_dir((self._fixed_dir,))
        return find_static_dir()

    def routes(self) -> list[web.RouteDef]:
        return [
            *(web.get(path, self.index) for path in APP_PATHS),
            web.get("/ui/assets/{name}", self.asset),
        ]

    async def index(self, request: web.Request) -> web.StreamResponse:
        d = self.static_dir()
        if d is None:
            return web.Response(status=503, text=MISSING_TEXT, content_type="text/html")
        return web.FileResponse(d / "index.html", headers={"Cache-Control": "no-cache"})

    async def asset(self, request: web.Request) -> web.StreamResponse:
        d = self.static_dir()
        name = request.match_info["name"]
        # Only plain file names inside the asset directory; never a path out of it.
        if d is None or "/" in name or "\\" in name or name.startswith("."):
            raise web.HTTPNotFound()
        path = d / name
        if not path.is_file():
            raise web.HTTPNotFound()
        # FileResponse sends app.js.gz when it exists and the client accepts gzip.
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})
