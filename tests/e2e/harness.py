"""Run a real ``tidewatch up`` process on a free loopback port, and a target to scrape."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class HTTPAnswer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return orjson.loads(self.body)


def http(
    method: str,
    url: str,
    params: dict[str, str] | None = None,
    body: bytes | None = None,
    auth: tuple[str, str] | None = None,
    content_type: str = "",
) -> HTTPAnswer:
    if params and method == "GET":
        url += "?" + urllib.parse.urlencode(params)
    data = body
    headers = {}
    if params and method == "POST":
        data = urllib.parse.urlencode(params).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if content_type:
        headers["Content-Type"] = content_type
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return HTTPAnswer(resp.status, resp.read(), dict(resp.headers))
    except urllib.error.HTTPError as exc:
        return HTTPAnswer(exc.code, exc.read(), dict(exc.headers))


@dataclass
class TidewatchProcess:
    data_dir: Path
    config: Path | None = None
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    listen_host: str = "127.0.0.1"
    auth: tuple[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: bool = True) -> None:
        args = [
            sys.executable,
            "-m",
            "tidewatch",
            "up",
            "--listen",
            f"{self.listen_host}:{self.port}",
            "--data-dir",
            str(self.data_dir),
        ]
        if self.config is not None:
            args += ["--config", str(self.config)]
        args += self.extra_args
        self.log_path = self.data_dir.parent / f"tidewatch-{self.port}.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
            )
        if wait_ready:
            self.wait_ready()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"tidewatch exited early:\n{self.log_text()}")
            try:
                if http("GET", self.url + "/-/ready").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"tidewatch not ready after {timeout}s:\n{self.log_text()}")

    def get(self, path: str, **params: str) -> HTTPAnswer:
        return http("GET", self.url + path, params or None, auth=self.auth)

    def post(self, path: str, **params: str) -> HTTPAnswer:
        return http("POST", self.url + path, params or None, auth=self.auth)

    def query(self, expr: str, **params: str) -> Any:
        ans = self.get("/api/v1/query", query=expr, **params)
        assert ans.status == 200, ans.body
        return ans.json()["data"]

    def wait_for(self, expr: str, pred: Callable[[Any], bool], timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        data: Any = None
        while time.monotonic() < deadline:
            data = self.query(expr)
            if pred(data):
                return data
            time.sleep(0.2)
        raise AssertionError(f"{expr}: condition not met in {timeout}s; last answer {data}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def wait_log_streams(
    server: TidewatchProcess, query: str, want: int, timeout: float = 20.0
) -> list[dict[str, Any]]:
    """Streams for ``query`` over the last 10 minutes, once ``want`` lines are there."""
    deadline = time.monotonic() + timeout
    streams: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        now = time.time_ns()
        ans = server.get(
            "/loki/api/v1/query_range",
            query=query,
            start=str(now - 600 * 10**9),
            end=str(now + 10**9),
            direction="forward",
        )
        assert ans.status == 200, ans.body
        streams = ans.json()["data"]["result"]
        if sum(len(s["values"]) for s in streams) >= want:
            return streams
        time.sleep(0.2)
    raise AssertionError(f"{query}: wanted {want} lines, got {streams}\n{server.log_text()}")


class MetricsTarget:
    """A loopback HTTP server exposing a text exposition the test can change."""

    def __init__(self, body: str = "") -> None:
        self.body = body.encode()
        self.status = 200
        self.delay = 0.0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if target.delay:
                    time.sleep(target.delay)
                self.send_response(target.status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(target.body)))
                self.end_headers()
                self.wfile.write(target.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_body(self, text: str) -> None:
        self.body = text.encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebhookSink:
    """A loopback HTTP server that records every POSTed JSON body."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                sink.bodies.append(orjson.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, pred: Callable[[list[Any]], bool], timeout: float = 20.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.bodies):
                return self.bodies
            time.sleep(0.1)
        raise AssertionError(f"webhook condition not met in {timeout}s; got {self.bodies}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
