"""``tidewatch logs`` as a subprocess against a real server: log and metric queries,
the output formats, errors, ``--tail`` over the websocket, and basic auth."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.e2e.harness import TidewatchProcess, free_port, http
from tidewatch.cli.cmd_logs import CLIError, entries_of, format_entry, parse_time_ns

BASE_NS = (int(time.time()) - 600) * 1_000_000_000  # ten minutes ago, whole seconds
LINES = [f"line {i} {'error' if i % 2 else 'ok'}" for i in range(6)]


def push(
    base: str,
    labels: dict[str, str],
    values: list[tuple[int, str]],
    auth: tuple[str, str] | None = None,
) -> None:
    body = orjson.dumps(
        {"streams": [{"stream": labels, "values": [[str(t), v] for t, v in values]}]}
    )
    ans = http(
        "POST", base + "/loki/api/v1/push", body=body, content_type="application/json", auth=auth
    )
    assert ans.status == 204, ans.body


def logs_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tidewatch", "logs", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TidewatchProcess]:
    tw = TidewatchProcess(tmp_path_factory.mktemp("cli-logs") / "data", None)
    tw.start()
    # One line a second, alternating streams, ten minutes ago.
    for i, line in enumerate(LINES):
        level = "error" if i % 2 else "info"
        push(tw.url, {"job": "app", "level": level}, [(BASE_NS + i * 1_000_000_000, line)])
    yield tw
    tw.stop()


def test_log_query_prints_newest_lines_oldest_first(server: TidewatchProcess) -> None:
    out = logs_cli('{job="app"}', "--server", server.url, "--limit", "3", "--since", "1h")
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()
    assert len(rows) == 3
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(BASE_NS // 10**9 + 3))
    assert rows[0] == f'{stamp}.000Z {{job="app", level="error"}} line 3 error'
    assert [r.split("} ", 1)[1] for r in rows] == LINES[3:]


def test_raw_jsonl_forward_and_time_range(server: TidewatchProcess) -> None:
    raw = logs_cli('{job="app"} |= "error"', "--server", server.url, "-o", "raw")
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.splitlines() == ["line 1 error", "line 3 error", "line 5 error"]

    start = str(BASE_NS // 10**9 + 1)
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_NS // 10**9 + 4))
    jsonl = logs_cli(
        '{job="app"}', "--server", server.url, "--from", start, "--to", end, "--output", "jsonl"
    )
    assert jsonl.returncode == 0, jsonl.stderr
    objs = [json.loads(x) for x in jsonl.stdout.splitlines()]
    # Loki's range is [from, to): seconds 1, 2 and 3.
    assert [o["line"] for o in objs] == LINES[1:4]
    assert objs[0]["labels"] == {"job": "app", "level": "error"}
    assert objs[0]["timestamp"].endswith("Z")

    first = logs_cli(
        '{job="app"}', "--server", server.url, "--forward", "--limit", "2", "-o", "raw"
    )
    assert first.stdout.splitlines() == LINES[:2]


def test_metric_query_prints_a_table(server: TidewatchProcess) -> None:
    out = logs_cli('sum by (level) (count_over_time({job="app"}[1h]))', "--server", server.url)
    assert out.returncode == 0, out.stderr
    header, rule, *rows = out.stdout.splitlines()
    assert header.split() == ["time", "value", "series"] and set(rule) <= {"-", " "}
    assert sorted((r.split()[1], r.split()[2]) for r in rows) == [
        ("3", '{level="error"}'),
        ("3", '{level="info"}'),
    ]
    ranged = logs_cli(
        'sum(count_over_time({job="app"}[1h]))', "--server", server.url, "--step", "5m"
    )
    assert ranged.returncode == 0, ranged.stderr
    assert len(ranged.stdout.splitlines()) > 3  # a row per step


def test_errors_are_explained(server: TidewatchProcess) -> None:
    bad = logs_cli('{job="app"} |= ', "--server", server.url)
    assert bad.returncode == 1 and bad.stdout == ""
    assert "400" in bad.stderr and "parse error at line 1, col" in bad.stderr
    down = logs_cli('{job="app"}', "--server", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 1
    assert "cannot reach" in down.stderr and "tidewatch up" in down.stderr
    tail_metric = logs_cli('rate({job="app"}[1m])', "--server", server.url, "--tail")
    assert tail_metric.returncode == 1 and "only log queries" in tail_metric.stderr
    since = logs_cli('{job="app"}', "--server", server.url, "--since", "yesterday")
    assert since.returncode == 1 and "--since" in since.stderr


def _read_until(proc: subprocess.Popen[str], want: str, timeout: float) -> list[str]:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sel.select(timeout=0.2):
            continue
        line = proc.stdout.readline()
        if not line:
            break
        got.append(line.rstrip("\n"))
        if want in line:
            return got
    raise AssertionError(f"{want!r} not printed in {timeout}s; got {got}")


def test_tail_follows_new_lines_until_ctrl_c(server: TidewatchProcess) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tidewatch",
            "logs",
            '{job="tail"}',
            "--tail",
            "-o",
            "raw",
            "--server",
            server.url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        push(server.url, {"job": "tail"}, [(time.time_ns(), "before")])
        # The first line may come as the tail's history or as a live line.
        _read_until(proc, "before", 20)
        push(server.url, {"job": "tail"}, [(time.time_ns(), "after the tail started")])
        push(server.url, {"job": "other"}, [(time.time_ns(), "not this one")])
        got = _read_until(proc, "after the tail started", 20)
        assert "not this one" not in got
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_basic_auth(tmp_path: Path) -> None:
    password = "correct horse battery"
    tw = TidewatchProcess(
        tmp_path / "data",
        None,
        listen_host="0.0.0.0",
        env={"TIDEWATCH_ADMIN_PASSWORD": password},
    )
    tw.start()
    try:
        push(tw.url, {"job": "app"}, [(time.time_ns(), "secret line")], auth=("admin", password))
        denied = logs_cli('{job="app"}', "--server", tw.url)
        assert denied.returncode == 1 and "401" in denied.stderr and "--user" in denied.stderr
        ok = logs_cli(
            '{job="app"}',
            "--server",
            tw.url,
            "--user",
            "admin",
            "--password-env",
            "MY_PW",
            "-o",
            "raw",
            env={"MY_PW": password},
        )
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.splitlines() == ["secret line"]
        missing = logs_cli('{job="app"}', "--server", tw.url, "--user", "admin")
        assert missing.returncode == 1 and "TIDEWATCH_PASSWORD" in missing.stderr
    finally:
        tw.stop()


# --------------------------------------------------------------------- helpers


def test_time_parsing_and_formatting() -> None:
    assert parse_time_ns("1700000000.5", "--from") == 1_700_000_000_500_000_000
    assert parse_time_ns("2023-11-14T22:13:20Z", "--to") == 1_700_000_000 * 10**9
    assert parse_time_ns("2023-11-14T22:13:20.25+00:00", "--to") == 1_700_000_000_250_000_000
    with pytest.raises(CLIError, match="RFC 3339"):
        parse_time_ns("tomorrow", "--to")
    streams = [
        {"stream": {"a": "1"}, "values": [["3", "c"], ["1", "a"]]},
        {"stream": {"a": "2"}, "values": [["2", "b"]]},
    ]
    assert [line for _, _, line in entries_of(streams)] == ["a", "b", "c"]
    t = 1_700_000_000_123_456_789
    assert format_entry(t, {"a": "1"}, "hello", "default") == (
        '2023-11-14T22:13:20.123Z {a="1"} hello'
    )
    assert json.loads(format_entry(t, {"a": "1"}, "hello", "jsonl")) == {
        "labels": {"a": "1"},
        "line": "hello",
        "timestamp": "2023-11-14T22:13:20.123456789Z",
    }
