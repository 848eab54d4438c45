"""The aiohttp application: every API on one port, errors in Prometheus's envelope."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from tidewatch.web.api_admin import AdminAPI
from tidewatch.web.api_alertmanager import AlertmanagerAPI
from tidewatch.web.api_loki import LokiAPI
from tidewatch.web.api_loki_rules import LokiRulesAPI
from tidewatch.web.api_metadata import MetadataAPI
from tidewatch.web.api_otlp import OTLPAPI
from tidewatch.web.api_pushgateway import PushgatewayAPI
from tidewatch.web.api_query import QueryAPI
from tidewatch.web.api_remote import RemoteAPI
from tidewatch.web.api_rules import RulesAPI
from tidewatch.web.grafana_api import GrafanaAPI
from tidewatch.web.lifecycle import LifecycleAPI
from tidewatch.web.responses import APIError, error_response
from tidewatch.web.services import Services
from tidewatch.web.ui import UIRoutes

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _handler_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "other"


def make_error_middleware(services: Services) -> Middleware:
    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        code = 500
        try:
            response = await handler(request)
            code = response.status
            return response
        except APIError as err:
            resp = error_response(err)
            code = resp.status
            return resp
        except web.HTTPException as exc:
            code = exc.status
            raise
        except Exception:
            # Never a traceback to the client; the log has it.
            log.exception("internal error serving %s", request.path)
            resp = error_response(APIError("internal", "internal server error"))
            return resp
        finally:
            services.self_metrics.observe_http(
                _handler_label(request), code, time.perf_counter() - started
            )

    return errors


def build_app(services: Services) -> web.Application:
    max_body = services.config.server.max_request_bytes
    app = web.Application(middlewares=[make_error_middleware(services)], client_max_size=max_body)
    apis = (
        LifecycleAPI(services),
        MetadataAPI(services),
        QueryAPI(services),
        RulesAPI(services),
        AdminAPI(services),
        AlertmanagerAPI(services),
        RemoteAPI(services),
        LokiAPI(services),
        LokiRulesAPI(services),
        OTLPAPI(services),
        PushgatewayAPI(services),
        GrafanaAPI(services),
        UIRoutes(services),
    )
    for api in apis:
        app.add_routes(api.routes())
    return app
