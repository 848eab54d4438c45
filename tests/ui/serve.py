"""``python -m tests.ui.serve up ...``: the real ``tidewatch up``, with the UI (and Loki)
routes mounted even where ``tidewatch/web/app.py`` does not mount them yet."""

from __future__ import annotations

import sys

from aiohttp import web

import tidewatch.server
from tidewatch.web.api_loki import LokiAPI
from tidewatch.web.app import build_app
from tidewatch.web.grafana_api import GrafanaAPI
from tidewatch.web.services import Services
from tidewatch.web.ui import UIRoutes


def build_app_with_ui(services: Services) -> web.Application:
    app = build_app(services)
    mounted = {getattr(r.resource, "canonical", "") for r in app.router.routes()}
    if "/api/search" not in mounted:
        app.router.add_routes(GrafanaAPI(services).routes())
    if "/loki/api/v1/push" not in mounted and hasattr(services, "log_store"):
        app.router.add_routes(LokiAPI(services).routes())
    if "/ui/assets/{name}" not in mounted:
        app.router.add_routes(UIRoutes(services).routes())
    return app


def main() -> None:
    tidewatch.server.build_app = build_app_with_ui
    from tidewatch.cli.main import main as cli_main

    sys.exit(cli_main())


if __name__ == "__main__":
    main()
