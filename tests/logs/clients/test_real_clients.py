"""Real Loki clients, each installed from its registry and run as its own process, push to
a real ``tidewatch up``; their lines come back through the query API with labels intact.

- PyPI ``python-logging-loki``: emitter "0" (``/api/prom/push``, the older body with a
  label string and RFC 3339 times) and emitter "1" (JSON ``streams``/``values``).
- npm ``winston-loki``: protobuf + snappy.
- npm ``pino-loki``: JSON, with structured metadata.

The npm packages are pinned by ``package-lock.json`` here and installed by
``scripts/test.sh`` into ``build/log-clients``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import TidewatchProcess, wait_log_streams
from tests.peers import require_binary, require_module

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
NODE_MODULES = REPO / "build" / "log-clients" / "node_modules"


def require_node_modules() -> Path:
    """The npm clients' node_modules: skip locally when missing, fail under CI."""
    require_binary("node")
    if not (NODE_MODULES / "winston-loki").is_dir() or not (NODE_MODULES / "pino-loki").is_dir():
        message = f"{NODE_MODULES} is missing; `bash scripts/test.sh` installs the npm clients"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return NODE_MODULES


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidewatchProcess]:
    proc = TidewatchProcess(data_dir=tmp_path_factory.mktemp("log-clients") / "data")
    proc.start()
    yield proc
    proc.stop()


def by_line(streams: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {v[1]: s["stream"] for s in streams for v in s["values"]}


def run_node(script: str, server: TidewatchProcess, run: str, **extra_env: str) -> str:
    modules = require_node_modules()
    env = {
        **os.environ,
        **extra_env,
        "NODE_PATH": str(modules),
        "LOKI_URL": server.url,
        "RUN_ID": run,
    }
    proc = subprocess.run(
        [require_binary("node"), str(HERE / script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "push failed" not in proc.stderr and "error" not in proc.stderr.lower(), proc.stderr
    return proc.stdout


def test_winston_loki_protobuf_snappy(server: TidewatchProcess) -> None:
    run = uuid.uuid4().hex[:8]
    out = run_node("winston_push.js", server, run)
    assert "content-type=application/x-protobuf" in out, out
    lines = by_line(wait_log_streams(server, f'{{app="winston", run="{run}"}}', 3))
    hello = 'winston says hello {"order":"A-1","level":"info"}'
    warns = 'winston warns {"level":"warn"}'
    error = 'winston ünïcode error ✓ {"level":"error"}'
    assert set(lines) == {hello, warns, error}
    assert lines[hello] == {"app": "winston", "run": run, "level": "info"}
    assert lines[warns] == {"app": "winston", "run": run, "level": "warn", "route": "/checkout"}
    assert lines[error] == {"app": "winston", "run": run, "level": "error"}


def test_winston_loki_json_with_metadata(server: TidewatchProcess) -> None:
    run = uuid.uuid4().hex[:8]
    out = run_node("winston_push.js", server, run, WINSTON_JSON="1")
    assert "content-type=application/json" in out, out
    streams = wait_log_streams(server, f'{{app="winston", run="{run}"}}', 3)
    lines = by_line(streams)
    hello = lines['winston says hello {"order":"A-1","level":"info"}']
    # Extra fields travel as structured metadata; `level` clashes with the stream label
    # of the same name, so queries see it as `level_extracted`, as in Loki.
    assert hello == {
        "app": "winston",
        "run": run,
        "level": "info",
        "order": "A-1",
        "level_extracted": "info",
    }
    series = server.get("/loki/api/v1/series", **{"match[]": f'{{run="{run}"}}'}).json()["data"]
    assert {frozenset(s) for s in series} == {
        frozenset({"app", "run", "level"}),
        frozenset({"app", "run", "level", "route"}),
    }


def test_pino_loki_json_with_metadata(server: TidewatchProcess) -> None:
    run = uuid.uuid4().hex[:8]
    run_node("pino_push.js", server, run)
    streams = wait_log_streams(server, f'{{app="pino", run="{run}"}}', 3)
    got = {(s["stream"]["level"], line) for s in streams for _, line in s["values"]}
    levels = {level for level, _ in got}
    assert levels == {"info", "warning", "error"}
    hello = next(s for s in streams if "pino says hello" in s["values"][0][1])
    # propsToLabels put `component` in the index; `meta` became structured metadata.
    assert hello["stream"]["component"] == "api"
    assert hello["stream"]["trace_id"] == "abc123"
    assert hello["stream"]["attempt"] == "2"
    series = server.get("/loki/api/v1/series", **{"match[]": f'{{run="{run}"}}'}).json()["data"]
    assert all("trace_id" not in s for s in series)
    # Metadata filters work like labels.
    [only] = wait_log_streams(server, f'{{app="pino", run="{run}"}} | trace_id="abc123"', 1)
    assert len(only["values"]) == 1


PY_CLIENT = textwrap.dedent(
    """
    import logging, sys, warnings
    warnings.simplefilter("ignore")
    import logging_loki

    url, version, run = sys.argv[1:4]
    handler = logging_loki.LokiHandler(
        url=url, tags={"app": "pylogging", "run": run, "v": version}, version=version
    )
    failed = []
    handler.handleError = lambda record: failed.append(sys.exc_info()[1])
    log = logging.getLogger("shop.orders")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.info("python says hello")
    log.warning("python ünïcode warning", extra={"tags": {"order-id": "A 1"}})
    log.error('quote " and backslash \\\\ in a line')
    if failed:
        sys.exit(f"push failed: {failed!r}")
    """
)


@pytest.mark.parametrize(("version", "path"), [("0", "/api/prom/push"), ("1", "/loki/api/v1/push")])
def test_python_logging_loki(server: TidewatchProcess, version: str, path: str) -> None:
    require_module("logging_loki")
    run = uuid.uuid4().hex[:8]
    proc = subprocess.run(
        [sys.executable, "-c", PY_CLIENT, server.url + path, version, run],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = by_line(wait_log_streams(server, f'{{app="pylogging", run="{run}"}}', 3))
    base = {"app": "pylogging", "run": run, "v": version, "logger": "shop.orders"}
    assert lines["python says hello"] == {**base, "severity": "info"}
    assert lines["python ünïcode warning"] == {**base, "severity": "warning", "order_id": "A 1"}
    assert lines['quote " and backslash \\ in a line'] == {**base, "severity": "error"}
