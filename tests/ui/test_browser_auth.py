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


def sign_in(
    page: Any, server: str, path: str, user: str = "admin", password: str = PASSWORD
) -> None:
    page.goto(server + path)
    assert "/login?next=" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
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


def user_roles(server: str) -> dict[str, str]:
    ans = http("GET", server + "/api/tidewatch/auth/users", auth=("admin", PASSWORD))
    return {u["name"]: u["role"] for u in ans.json()["data"]}


def test_admin_manages_users_and_tokens(server: str, page: Any, tmp_path: Path) -> None:
    artifacts = Path(os.environ.get("TIDEWATCH_TEST_ARTIFACTS") or tmp_path) / "ui"
    artifacts.mkdir(parents=True, exist_ok=True)
    page.on("dialog", lambda d: d.accept())  # "Delete user ...?" and "Revoke ...?"
    sign_in(page, server, "/admin/users")
    page.wait_for_selector(".user-row[data-user=admin]")
    assert page.locator(".nav-admin").is_visible()

    # Create an editor, then demote and promote it again from its row.
    page.fill(".user-form input[name=name]", "edna")
    page.fill(".user-form input[name=password]", "first password")
    page.select_option(".user-form select[name=role]", "editor")
    page.click("button:has-text('Create user')")
    page.wait_for_selector(".user-row[data-user=edna][data-role=editor]")
    assert user_roles(server)["edna"] == "editor"
    page.select_option(".user-row[data-user=edna] select", "viewer")
    page.wait_for_selector(".user-row[data-user=edna][data-role=viewer]")
    assert user_roles(server)["edna"] == "viewer"
    page.select_option(".user-row[data-user=edna] select", "editor")
    page.wait_for_selector(".user-row[data-user=edna][data-role=editor]")

    # Reset its password: the old one stops working, the new one works.
    row = page.locator(".user-row[data-user=edna]")
    row.locator("button:has-text('Reset password')").click()
    row.locator("input[name=new-password]").fill("second password")
    row.locator("button:text-is('Set')").click()
    page.wait_for_selector(".form-msg.ok:has-text('Password of edna changed')")
    assert http("GET", server + "/api/v1/labels", auth=("edna", "first password")).status == 401
    assert http("GET", server + "/api/v1/labels", auth=("edna", "second password")).status == 200

    # The last admin cannot be demoted: the refusal is shown, nothing changes.
    page.select_option(".user-row[data-user=admin] select", "viewer")
    page.wait_for_selector(".form-msg.bad")
    assert user_roles(server)["admin"] == "admin"

    # A throw-away user is deleted.
    page.fill(".user-form input[name=name]", "temp")
    page.fill(".user-form input[name=password]", "temporary pw")
    page.click("button:has-text('Create user')")
    page.wait_for_selector(".user-row[data-user=temp]")
    page.locator(".user-row[data-user=temp] button:has-text('Delete')").click()
    page.wait_for_selector(".user-row[data-user=temp]", state="detached")
    assert "temp" not in user_roles(server)

    # A token is shown once, works as a bearer token, and stops working when revoked.
    page.fill("input[name=token-name]", "ci-script")
    page.select_option("select[name=token-role]", "viewer")
    page.click("button:has-text('Create token')")
    page.wait_for_selector(".token-row[data-name=ci-script]")
    secret = page.locator(".token-secret code").inner_text()
    assert secret.startswith("tw_")
    page.screenshot(path=str(artifacts / "users.png"), full_page=True)
    assert http("GET", server + "/api/v1/labels", auth=("x", secret)).status == 200
    assert (
        secret
        not in http(
            "GET", server + "/api/tidewatch/auth/tokens", auth=("admin", PASSWORD)
        ).body.decode()
    )
    page.locator(".token-row[data-name=ci-script] button:has-text('Revoke')").click()
    page.wait_for_selector(".token-row[data-name=ci-script]", state="detached")
    assert http("GET", server + "/api/v1/labels", auth=("x", secret)).status == 401
    assert not page.errors

    # Sign out, sign in as the new editor: no users page for it, and the API says 403.
    page.click(".nav-user")
    page.wait_for_url("**/login**")
    sign_in(page, server, "/admin/users", "edna", "second password")
    page.wait_for_selector(".forbidden")
    assert "403" in page.locator(".forbidden").inner_text()
    assert page.locator(".nav-admin").is_hidden()
    assert page.locator(".nav-user").inner_text().startswith("edna")
    page.screenshot(path=str(artifacts / "users-forbidden.png"), full_page=True)
    ans = http("GET", server + "/api/tidewatch/auth/users", auth=("edna", "second password"))
    assert ans.status == 403
    # An editor may write dashboards, and gets the edit controls.
    body = json.dumps({"dashboard": {"title": "by edna", "panels": []}}).encode()
    edna = ("edna", "second password")
    ans = http(
        "POST",
        server + "/api/dashboards/db",
        body=body,
        auth=edna,
        content_type="application/json",
    )
    assert ans.status == 200
    page.goto(server + "/d/tidewatch-self?from=now-5m&to=now")
    page.wait_for_function(DRAWN, timeout=30_000)
    assert page.locator("button.add-panel").count() == 1
    assert page.locator(".panel-edit").count() > 0
    assert not page.errors

    # A viewer gets no edit controls; a wrong password is shown on the sign-in page.
    vera = {"name": "vera", "password": "viewer password", "role": "viewer"}
    ans = http(
        "POST",
        server + "/api/tidewatch/auth/users",
        body=json.dumps(vera).encode(),
        auth=("admin", PASSWORD),
        content_type="application/json",
    )
    assert ans.status == 200, ans.body
    page.click(".nav-user")
    page.wait_for_url("**/login**")
    page.fill("input[name=username]", "vera")
    page.fill("input[name=password]", "not her password")
    page.click("button[type=submit]")
    page.wait_for_selector(".login-error")
    page.screenshot(path=str(artifacts / "login-error.png"))
    sign_in(page, server, "/d/tidewatch-self?from=now-5m&to=now", "vera", "viewer password")
    page.wait_for_function(DRAWN, timeout=30_000)
    assert page.locator("button.add-panel").count() == 0
    assert page.locator(".panel-edit").count() == 0
    assert page.locator(".nav-admin").is_hidden()
    assert not page.errors
