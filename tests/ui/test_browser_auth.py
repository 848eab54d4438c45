"""The UI with sign-in on, in a real browser against a real ``tidewatch up``: a page load
goes to the sign-in form and back, dashboards render, and a silence is created and
expired through the session cookie plus its CSRF token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import free_port, http
from tests.ui.browser import launch, require_browser
from tidewatch.web.ui import find_static_dir

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
DRAWN = "window.__tw && window.__tw.drawnAt !== null"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    if find_static_dir() is None:
        pytest.skip("the web UI is not built (cd ui && npm ci && npm run build)")
    root = tmp_path_factory.mktemp("tidewatch-ui-auth")
    port = free_port()
    target = f"127.0.0.1:{port}"
    # The self-scrape needs credentials too: auth covers /metrics.
    cfg = {
        "auth": {"required": True},
        "prometheus": {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": "tidewatch",
                    "basic_auth": {"username": "admin", "password": PASSWORD},
                    "static_configs": [{"targets": [target]}],
                }
            ],
        },
    }
    cfg_path = root / "tidewatch.yml"
    cfg_path.write_text(json.dumps(cfg))
    env = {**os.environ, "TIDEWATCH_ADMIN_PASSWORD": PASSWORD}
    log_path = root / "tidewatch.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed at teardown
    args = ["up", "--listen", target, "--data-dir", str(root / "data"), "--config", str(cfg_path)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tidewatch", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env=env,
    )
    url = f"http://{target}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            try:
                if http("GET", url + "/-/ready").status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError("tidewatch did not start:\n" + log_path.read_text())
        # Auth really is on: an anonymous API call is refused.
        assert http("GET", url + "/api/v1/labels").status == 401
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    sync_api = require_browser()
    pw, browser = launch(sync_api)
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = ctx.new_page()
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    ctx.close()
    browser.close()
    pw.stop()


def sign_in(page: Any, server: str, path: str) -> None:
    page.goto(server + path)
    assert "/login?next=" in page.url
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server + path)


def test_sign_in_dashboard_and_silence(server: str, page: Any, tmp_path: Path) -> None:
    artifacts = Path(os.environ.get("TIDEWATCH_TEST_ARTIFACTS") or tmp_path) / "ui"
    artifacts.mkdir(parents=True, exist_ok=True)
    sign_in(page, server, "/d/tidewatch-self?from=now-5m&to=now")
    page.wait_for_function(DRAWN, timeout=30_000)
    states = page.eval_on_selector_all(".panel", "els => els.map(e => e.dataset.state)")
    assert states and "error" not in states, states
    assert page.locator(".nav-user").inner_text().startswith("admin")
    page.screenshot(path=str(artifacts / "auth-dashboard.png"), full_page=True)

    # Silences are writes: the session's CSRF token must go along.
    writes: list[dict[str, str]] = []
    page.on("request", lambda r: writes.append(r.headers) if r.method != "GET" else None)
    page.goto(server + "/alerting")
    page.fill("input[name=matchers]", 'alertname="AuthTest", severity="page"')
    page.fill("input[name=comment]", "through the session")
    page.fill("input[name=createdBy]", "admin")
    page.click("button:has-text('Create silence')")
    page.wait_for_selector(".silence-row[data-state=active]", timeout=15_000)
    row = page.locator(".silence-row[data-state=active]").first
    silence_id = row.get_attribute("data-id")
    row.locator("button:has-text('Expire')").click()
    page.wait_for_selector(f".silence-row[data-id='{silence_id}'][data-state=expired]")
    page.screenshot(path=str(artifacts / "auth-silences.png"), full_page=True)
    assert writes and all(h.get("x-csrf-token") for h in writes), writes
    assert not page.errors

    # Signing out from the UI ends the session: the next page load asks again.
    page.click(".nav-user")
    page.wait_for_url("**/login**")
    page.goto(server + "/explore")
    assert "/login?next=" in page.url
