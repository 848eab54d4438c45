"""The Pushgateway endpoints on a loopback aiohttp server, state in tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tidewatch.web.api_pushgateway import PushgatewayAPI


def make_app(directory: Path) -> web.Application:
    app = web.Application()
    # The handlers use only the state directory; no other service is needed.
    app.add_routes(PushgatewayAPI(None, directory).routes())  # type: ignore[arg-type]
    return app


@pytest.fixture
async def pgw(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_app(tmp_path / "pushgateway"), host="127.0.0.1")) as c:
        yield c
