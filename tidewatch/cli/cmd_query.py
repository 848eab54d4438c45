"""``tidewatch query``: run PromQL through the HTTP API and print a table or JSON."""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

from tidewatch.cli.table import render_table
from tidewatch.config.model import DEFAULT_LISTEN
from tidewatch.labels import format_labels, from_dict


def register(sub: Any) -> None:
    p = sub.add_parser(
        "query",
        help="run a PromQL query against a running tidewatch",
        description="Instant query at --time (default now), or a range query with --start/--end/--step.",
    )
    p.add_argument("expr", metavar="EXPR")
    p.add_argument("--url", default=f"http://{DEFAULT_LISTEN}", help="tidewatch base URL")
    p.add_argument("--time", default="", help="evaluation time (Unix seconds or RFC 3339)")
    p.add_argument("--start", default="")
    p.add_argument("--end", default="")
    p.add_argument("--step", default="", help="range query step, e.g. 15s or 60")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.add_argument("--token", default="", help="bearer token for the API")
    p.set_defaults(func=run)


def auth_headers(token: str = "", user: str = "", password: str = "") -> dict[str, str]:
    """The Authorization header for a bearer token, or else for basic auth."""
    if token:
        return {"Authorization": f"Bearer {token}"}
    if user:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    return {}


def api_request(
    base: str, path: str, params: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """POST a form to the API: (status, body), error statuses included. Raises
    ``urllib.error.URLError`` / ``OSError`` when the server cannot be reached."""
    url = base.rstrip("/") + path
    data = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers=headers or {})
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _call(base: str, path: str, params: dict[str, str], token: str) -> dict[str, Any]:
    status, raw = api_request(base, path, params, auth_headers(token))
    try:
        body: dict[str, Any] = json.loads(raw)
    except ValueError:
        body = {"status": "error", "errorType": str(status), "error": raw.decode(errors="replace")}
    return body


def _fmt_ts(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def format_result(data: dict[str, Any]) -> str:
    kind = data["resultType"]
    result = data["result"]
    if kind in ("scalar", "string"):
        return render_table(["time", "value"], [[_fmt_ts(result[0]), result[1]]])
    if kind == "vector":
        rows = [
            [_fmt_ts(s["value"][0]), s["value"][1], format_labels(from_dict(s["metric"]))]
            for s in result
        ]
        return render_table(["time", "value", "series"], rows)
    rows = []
    for s in result:
        name = format_labels(from_dict(s["metric"]))
        for t, v in s.get("values", []):
            rows.append([_fmt_ts(t), v, name])
    return render_table(["time", "value", "series"], rows)


def run(args: argparse.Namespace) -> int:
    if args.start or args.end or args.step:
        if not (args.start and args.end and args.step):
            print("error: a range query needs --start, --end and --step", file=sys.stderr)
            return 2
        path = "/api/v1/query_range"
        params = {"query": args.expr, "start": args.start, "end": args.end, "step": args.step}
    else:
        path = "/api/v1/query"
        params = {"query": args.expr}
        if args.time:
            params["time"] = args.time
    try:
        body = _call(args.url, path, params, args.token)
    except (urllib.error.URLError, OSError) as exc:
        print(
            f"error: cannot reach {args.url}: {exc}\nIs tidewatch running? Start it with: "
            "tidewatch up",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(body, indent=2))
        return 0 if body.get("status") == "success" else 1
    if body.get("status") != "success":
        print(f"error ({body.get('errorType')}): {body.get('error')}", file=sys.stderr)
        return 1
    for w in body.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    print(format_result(body["data"]))
    return 0
