"""``tidewatch logs QUERY``: LogQL through the Loki API, like Loki's ``logcli query``.

Log queries print the newest ``--limit`` lines of the time range, oldest first;
metric queries print a table (an instant query at ``--to``, or a range query when
``--from`` or ``--step`` is given). ``--tail`` follows new lines over the
``/loki/api/v1/tail`` websocket until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import aiohttp

from tidewatch.cli.cmd_query import api_request, auth_headers, format_result
from tidewatch.config.model import DEFAULT_LISTEN
from tidewatch.duration import DurationError, parse_duration
from tidewatch.labels import format_labels, from_dict
from tidewatch.logs.logql import ast
from tidewatch.logs.logql.parser import ParseError, parse_expr

OUTPUTS = ("default", "raw", "jsonl")
DEFAULT_PASSWORD_ENV = "TIDEWATCH_PASSWORD"
NS = 1_000_000_000


class CLIError(Exception):
    """A problem to print as ``error: ...`` with exit status 1."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "logs",
        help="run a LogQL query against a running tidewatch (like logcli query)",
        description=(
            "Log queries print lines oldest first; metric queries print a table. "
            "--tail follows new lines until Ctrl-C."
        ),
    )
    p.add_argument("query", metavar="QUERY", help='LogQL, e.g. \'{job="app"} |= "error"\'')
    p.add_argument("--since", default="1h", help="how far back from --to (default 1h)")
    p.add_argument("--from", dest="start", default="", help="start (RFC 3339 or Unix seconds)")
    p.add_argument("--to", dest="end", default="", help="end (RFC 3339 or Unix seconds)")
    p.add_argument("--limit", type=int, default=30, help="most lines to print (default 30)")
    p.add_argument("--step", default="", help="metric queries: range query step, e.g. 1m")
    p.add_argument(
        "--forward", action="store_true", help="the oldest --limit lines instead of the newest"
    )
    p.add_argument("--tail", "-f", action="store_true", help="follow new lines until Ctrl-C")
    p.add_argument("--output", "-o", choices=OUTPUTS, default="default")
    p.add_argument(
        "--server",
        "--url",
        dest="server",
        default=os.environ.get("TIDEWATCH_URL", f"http://{DEFAULT_LISTEN}"),
        help=f"tidewatch base URL (default $TIDEWATCH_URL, else http://{DEFAULT_LISTEN})",
    )
    p.add_argument("--token", default="", help="bearer token for the API")
    p.add_argument("--user", default="", help="user name for basic auth")
    p.add_argument(
        "--password-env",
        default=DEFAULT_PASSWORD_ENV,
        metavar="VAR",
        help=f"environment variable holding the --user password (default {DEFAULT_PASSWORD_ENV})",
    )
    p.set_defaults(func=run)


# --------------------------------------------------------------------- arguments


def parse_time_ns(text: str, flag: str) -> int:
    """RFC 3339 or Unix seconds (fractions allowed) -> ns."""
    try:
        return int(float(text) * NS)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise CLIError(
            f"{flag} {text!r}: use RFC 3339 (2024-05-01T10:00:00Z) or Unix seconds"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * NS + dt.microsecond * 1000


def time_range(args: argparse.Namespace) -> tuple[int, int]:
    end = parse_time_ns(args.end, "--to") if args.end else time.time_ns()
    if args.start:
        return parse_time_ns(args.start, "--from"), end
    try:
        since = parse_duration(args.since)
    except DurationError as exc:
        raise CLIError(f"--since: {exc}") from None
    return end - since * 1_000_000, end


def headers_for(args: argparse.Namespace) -> dict[str, str]:
    password = os.environ.get(args.password_env, "") if args.user else ""
    if args.user and not password:
        raise CLIError(f"--user {args.user} needs the password in ${args.password_env}")
    return auth_headers(args.token, args.user, password)


def is_log_query(text: str) -> bool | None:
    """True for a log query, False for a metric query, None if it does not parse
    (the server then answers with the error and its position)."""
    try:
        return isinstance(parse_expr(text), ast.LogQuery)
    except ParseError:
        return None


# --------------------------------------------------------------------- output


def fmt_ns(t_ns: int) -> str:
    seconds, frac = divmod(t_ns, NS)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac // 1_000_000:03d}Z"


def rfc3339_nano(t_ns: int) -> str:
    seconds, frac = divmod(t_ns, NS)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:09d}".rstrip("0")
    return stamp + (f".{digits}" if digits else "") + "Z"


def entries_of(streams: list[dict[str, Any]]) -> list[tuple[int, dict[str, str], str]]:
    """Loki's streams as (ts, labels, line), oldest first."""
    out = [
        (int(ts), s.get("stream", {}), line)
        for s in streams
        for ts, line, *_ in s.get("values", [])
    ]
    out.sort(key=lambda e: e[0])
    return out


def format_entry(t_ns: int, labels: dict[str, str], line: str, output: str) -> str:
    if output == "raw":
        return line
    if output == "jsonl":
        obj = {"labels": labels, "line": line, "timestamp": rfc3339_nano(t_ns)}
        return json.dumps(obj, ensure_ascii=False)
    return f"{fmt_ns(t_ns)} {format_labels(from_dict(labels))} {line}"


def print_data(data: dict[str, Any], output: str, limit: int) -> None:
    if data.get("resultType") == "streams":
        entries = entries_of(data.get("result", []))
        if limit > 0:
            entries = entries[-limit:]
        _write_lines(format_entry(t, lb, line, output) for t, lb, line in entries)
        return
    if output == "jsonl":
        result = data.get("result")
        items = result if data.get("resultType") in ("vector", "matrix") else [result]
        _write_lines(json.dumps(r, ensure_ascii=False) for r in items or [])
        return
    _write_lines([format_result(data)])


def _write_lines(lines: Any) -> None:
    out = sys.stdout
    for line in lines:
        out.write(line)
        out.write("\n")
    out.flush()


# --------------------------------------------------------------------- running


def _unreachable(server: str, reason: object) -> CLIError:
    return CLIError(
        f"cannot reach {server}: {reason}\n"
        "Is tidewatch running? Start it with `tidewatch up`, or point --server at it."
    )


def _answer_error(status: int, body: bytes) -> CLIError:
    text = body.decode(errors="replace").strip()
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict) and "error" in parsed:
            text = str(parsed["error"])
    except ValueError:
        pass
    if status in (401, 403):
        return CLIError(
            f"{status}: {text or 'unauthorized'}\n"
            "Pass --token, or --user with the password in $TIDEWATCH_PASSWORD "
            "(see --password-env)."
        )
    return CLIError(f"{status}: {text}" if text else f"server answered {status}")


def query_once(args: argparse.Namespace, headers: dict[str, str]) -> None:
    start, end = time_range(args)
    log_query = is_log_query(args.query)
    params: dict[str, str] = {"query": args.query, "limit": str(args.limit)}
    if log_query is False and not args.step and not args.start:
        path = "/loki/api/v1/query"
        params["time"] = str(end)
    else:
        path = "/loki/api/v1/query_range"
        params |= {"start": str(start), "end": str(end)}
        params["direction"] = "forward" if args.forward else "backward"
        if args.step:
            params["step"] = args.step
    try:
        status, body = api_request(args.server, path, params, headers)
    except (urllib.error.URLError, OSError) as exc:
        raise _unreachable(args.server, getattr(exc, "reason", exc)) from None
    if status != 200:
        raise _answer_error(status, body)
    try:
        answer = json.loads(body)
    except ValueError:
        raise CLIError(f"the server's answer is not JSON: {body[:200]!r}") from None
    print_data(answer.get("data", {}), args.output, args.limit if log_query is not False else 0)


async def follow(args: argparse.Namespace, headers: dict[str, str]) -> None:
    """Print what the tail websocket sends until the server closes it or Ctrl-C."""
    start, _ = time_range(args)
    query = urllib.parse.urlencode(
        {"query": args.query, "limit": str(args.limit), "start": str(start)}
    )
    base = args.server.rstrip("/")
    ws_url = "ws" + base.removeprefix("http") + "/loki/api/v1/tail?" + query
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(ws_url, headers=headers, heartbeat=30) as ws,
        ):
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                body = json.loads(msg.data)
                entries = entries_of(body.get("streams") or [])
                _write_lines(format_entry(t, lb, line, args.output) for t, lb, line in entries)
                dropped = body.get("dropped_entries") or []
                if dropped:
                    print(f"warning: the server dropped {len(dropped)} entries", file=sys.stderr)
    except aiohttp.WSServerHandshakeError as exc:
        raise CLIError(f"{exc.status}: the server refused to tail: {exc.message}") from None
    except (aiohttp.ClientConnectorError, OSError) as exc:
        raise _unreachable(args.server, exc) from None


def run(args: argparse.Namespace) -> int:
    try:
        headers = headers_for(args)
        if args.tail:
            kind = is_log_query(args.query)
            if kind is not True:
                # Parse here: the websocket handshake cannot carry the server's message.
                problem = "only log queries can be tailed"
                try:
                    parse_expr(args.query)
                except ParseError as exc:
                    problem = str(exc)
                raise CLIError(problem)
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a tail ends
                asyncio.run(follow(args, headers))
            return 0
        query_once(args, headers)
        return 0
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader (head, less) went away; not an error.
        sys.stderr.close()
        return 0
