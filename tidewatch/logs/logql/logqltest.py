"""Runner for Loki's ``.logqltest`` scripts (``load`` / ``clear`` / ``eval``).

Each ``eval`` is one case, named ``<file>:<line>``; :func:`run_file` returns the
outcome of every case so a test can report pass/fail counts per file.

Upstream scripts cover metric queries only. For log (stream) queries this runner adds
``eval logs from <t0> to <t1> [forward|backward] [limit <n>] <query>``, expecting one
``{labels} @ <time> "line"`` per returned entry, in the order returned within each
stream (streams compare as a set); ``expect empty`` and ``expect fail`` work as usual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import re2

from tidewatch.labels import Labels
from tidewatch.logs.logql.engine import (
    LogQLEngine,
    MatrixResult,
    ScalarResult,
    Streams,
    VectorResult,
)
from tidewatch.logs.logql.lexer import Token, tokenize
from tidewatch.logs.logql.parser import ParseError
from tidewatch.logs.logql.store import MemoryLogStore
from tidewatch.logs.logql.units import parse_query_duration_ns
from tidewatch.logs.logql.values import QueryError

_EVAL_INSTANT = re2.compile(r"^eval\s+instant\s+at\s+(\S+)\s+(.+)$")
_EVAL_RANGE = re2.compile(r"^eval\s+range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.+)$")
_EVAL_LOGS = re2.compile(
    r"^eval\s+logs\s+from\s+(\S+)\s+to\s+(\S+)(?:\s+(forward|backward))?(?:\s+limit\s+(\d+))?\s+(.+)$"
)
_REPEAT = re2.compile(r"^\[repeat\s+every\s+(\S+)\s+for\s+(\d+)\]")
_EXPAND = re2.compile(r"^([-+]?[0-9.eE+-]+|[-+]?Inf|NaN)([+-])([0-9.eE+-]+)x(\d+)$")
_TIMES = re2.compile(r"^([-+]?[0-9.eE+-]+|[-+]?Inf|NaN)x(\d+)$")


class ScriptError(ValueError):
    pass


@dataclass
class CaseResult:
    name: str
    query: str
    ok: bool
    message: str = ""


@dataclass
class Expectation:
    series: list[tuple[Labels, list[float | None]]] = field(default_factory=list)
    scalar: float | None = None
    empty: bool = False
    fail: bool = False
    fail_msg: str | None = None
    fail_regex: str | None = None
    ordered: bool = False
    entries: list[tuple[Labels, int, str]] = field(default_factory=list)  # log queries


def strip_comment(line: str) -> str:
    quote = ""
    for i, c in enumerate(line):
        if quote:
            if c == quote and not (quote == '"' and line[i - 1] == "\\"):
                quote = ""
        elif c in '"`':
            quote = c
        elif c == "#":
            return line[:i].rstrip()
    return line.rstrip()


def _dur_ns(text: str) -> int:
    if text in ("0", "0s"):
        return 0
    return parse_query_duration_ns(text)


def _parse_labels(tokens: list[Token], i: int) -> tuple[Labels, int]:
    if tokens[i].kind != "{":
        raise ScriptError("expected '{'")
    i += 1
    out: dict[str, str] = {}
    while tokens[i].kind != "}":
        name = tokens[i]
        if tokens[i + 1].kind != "=" or tokens[i + 2].kind != "STRING":
            raise ScriptError("bad label set")
        out[name.text] = tokens[i + 2].text
        i += 3
        if tokens[i].kind == ",":
            i += 1
    return tuple(sorted(out.items())), i + 1


def _label_block_end(text: str) -> int:
    quote = False
    for i, c in enumerate(text):
        if c == '"' and (i == 0 or text[i - 1] != "\\"):
            quote = not quote
        elif c == "}" and not quote:
            return i + 1
    raise ScriptError(f"unterminated label set: {text}")


def parse_labels_text(text: str) -> Labels:
    if text.strip() == "{}":
        return ()
    lb, _ = _parse_labels(tokenize(text), 0)
    return lb


def _parse_metadata(text: str) -> Labels:
    body = text.strip()[len("[metadata") : -1].strip()
    out: dict[str, str] = {}
    i = 0
    while i < len(body):
        while i < len(body) and body[i] == " ":
            i += 1
        if i >= len(body):
            break
        if body[i] == '"':
            end = body.index('"', i + 1)
            key = body[i + 1 : end]
            i = end + 1
        else:
            end = body.index("=", i)
            key = body[i:end]
            i = end
        if body[i] != "=" or body[i + 1] != '"':
            raise ScriptError(f"bad metadata: {text}")
        end = body.index('"', i + 2)
        out[key] = body[i + 2 : end]
        i = end + 1
    return tuple(sorted(out.items()))


def load_line(store: MemoryLogStore, line: str) -> None:
    end = _label_block_end(line)
    labels = parse_labels_text(line[:end])
    rest = line[end:].strip()
    quote = rest[0]
    if quote not in '"`':
        raise ScriptError(f"expected a quoted line: {line}")
    close = rest.index(quote, 1)
    text = rest[1:close]
    rest = rest[close + 1 :].strip()
    if not rest.startswith("@"):
        raise ScriptError(f"missing @ <start>: {line}")
    rest = rest[1:].strip()
    start_s, _, rest = rest.partition(" ")
    start = _dur_ns(start_s)
    rest = rest.strip()
    step, count = 0, 1
    m = _REPEAT.match(rest)
    if m:
        step, count = _dur_ns(m.group(1)), int(m.group(2))
        rest = rest[m.end() :].strip()
    meta: Labels = ()
    if rest.startswith("[metadata"):
        meta = _parse_metadata(rest)
    elif rest:
        raise ScriptError(f"unexpected text in load: {rest}")
    for i in range(count):
        store.push(labels, start + i * step, text.replace("{{.i}}", str(i)), meta)


def parse_value(text: str) -> float:
    t = text.strip()
    if t in ("Inf", "+Inf"):
        return math.inf
    if t == "-Inf":
        return -math.inf
    if t == "NaN":
        return math.nan
    return float(t)


def expand_points(words: list[str]) -> list[float | None]:
    out: list[float | None] = []
    for w in words:
        if w == "_":
            out.append(None)
            continue
        m = _EXPAND.match(w)
        if m:
            base, sign, delta, count = (
                parse_value(m.group(1)),
                m.group(2),
                float(m.group(3)),
                int(m.group(4)),
            )
            d = delta if sign == "+" else -delta
            out.extend(base + k * d for k in range(count + 1))
            continue
        m = _TIMES.match(w)
        if m:
            out.extend([parse_value(m.group(1))] * (int(m.group(2)) + 1))
            continue
        out.append(parse_value(w))
    return out


def _parse_entry(line: str) -> tuple[Labels, int, str]:
    """``{labels} @ <time> "line"`` (or a backtick-quoted line), as log queries expect."""
    end = _label_block_end(line)
    labels = parse_labels_text(line[:end])
    rest = line[end:].strip()
    if not rest.startswith("@"):
        raise ScriptError(f"expected '@ <time>' in {line!r}")
    t_text, _, rest = rest[1:].strip().partition(" ")
    rest = rest.strip()
    if len(rest) < 2 or rest[0] not in '"`' or rest[-1] != rest[0]:
        raise ScriptError(f"expected a quoted line in {line!r}")
    return labels, _dur_ns(t_text), rest[1:-1]


def parse_expectations(lines: list[str], logs: bool = False) -> Expectation:
    exp = Expectation()
    for raw in lines:
        line = raw.strip()
        if logs and line.startswith("{"):
            exp.entries.append(_parse_entry(line))
        elif line == "expect empty":
            exp.empty = True
        elif line.startswith("expect fail"):
            exp.fail = True
            rest = line[len("expect fail") :].strip()
            if rest.startswith("msg:"):
                exp.fail_msg = rest[4:].strip()
            elif rest.startswith("regex:"):
                exp.fail_regex = rest[6:].strip()
        elif line == "expect ordered":
            exp.ordered = True
        elif line.startswith("skip "):
            continue
        elif line.startswith("{"):
            end = _label_block_end(line)
            exp.series.append((parse_labels_text(line[:end]), expand_points(line[end:].split())))
        else:
            exp.scalar = parse_value(line)
    return exp


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _fmt_labels(lb: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in lb) + "}"


def check_result(result: object, exp: Expectation, steps: list[int]) -> str:
    """An empty string when ``result`` meets ``exp``, else what differs."""
    if exp.scalar is not None:
        if not isinstance(result, ScalarResult | MatrixResult):
            return f"expected scalar, got {type(result).__name__}"
        if isinstance(result, ScalarResult):
            got = result.value
        else:
            if len(result.series) != 1:
                return f"expected scalar, got {len(result.series)} series"
            got = float(result.series[0][2][0])
        return "" if _close(got, exp.scalar) else f"expected {exp.scalar}, got {got}"
    got_series: list[tuple[Labels, list[float | None]]] = []
    if isinstance(result, VectorResult):
        got_series = [(lb, [v]) for lb, v in result.samples]
    elif isinstance(result, MatrixResult):
        for lb, ts, vals in result.series:
            points: list[float | None] = [None] * len(steps)
            pos = {t: k for k, t in enumerate(steps)}
            for t, v in zip(ts.tolist(), vals.tolist(), strict=False):
                points[pos[t]] = v
            got_series.append((lb, points))
    elif isinstance(result, ScalarResult):
        return f"expected vector, got scalar {result.value}"
    elif isinstance(result, Streams):
        return "expected a metric result, got streams"
    if exp.empty:
        if got_series:
            return "expected empty, got " + "; ".join(
                f"{_fmt_labels(lb)} {p}" for lb, p in got_series
            )
        return ""
    if len(got_series) != len(exp.series) or {lb for lb, _ in got_series} != {
        lb for lb, _ in exp.series
    }:
        return (
            "series differ: expected "
            + "; ".join(f"{_fmt_labels(lb)} {p}" for lb, p in exp.series)
            + " | got "
            + "; ".join(f"{_fmt_labels(lb)} {p}" for lb, p in got_series)
        )
    if exp.ordered:
        for (elb, _), (glb, _) in zip(exp.series, got_series, strict=False):
            if elb != glb:
                return f"order differs: expected {[_fmt_labels(x) for x, _ in exp.series]}, got {[_fmt_labels(x) for x, _ in got_series]}"
    got_map = dict(got_series)
    for lb, want in exp.series:
        have = got_map[lb]
        if len(want) != len(have):
            return f"{_fmt_labels(lb)}: expected {len(want)} points {want}, got {have}"
        for w, h in zip(want, have, strict=False):
            if (w is None) != (h is None) or (w is not None and h is not None and not _close(w, h)):
                return f"{_fmt_labels(lb)}: expected {want}, got {have}"
    return ""


def _check_failure(exc: Exception, exp: Expectation) -> str:
    text = str(exc)
    if exp.fail_msg is not None and exp.fail_msg not in text:
        return f"error {text!r} does not contain {exp.fail_msg!r}"
    if exp.fail_regex is not None and re2.search(exp.fail_regex, text) is None:
        return f"error {text!r} does not match {exp.fail_regex!r}"
    return ""


def check_streams(result: object, exp: Expectation) -> str:
    """Streams compared as a set; each stream's entries in the order the query returned them."""
    if not isinstance(result, Streams):
        return f"expected streams, got {type(result).__name__}"
    got: dict[Labels, list[tuple[int, str]]] = {s.labels: list(s.entries) for s in result.streams}
    want: dict[Labels, list[tuple[int, str]]] = {}
    for lb, t, line in exp.entries:
        want.setdefault(lb, []).append((t, line))
    if exp.empty and not want:
        return "" if not got else f"expected empty, got {got}"
    if got != want:
        return f"streams differ: expected {want} | got {got}"
    return ""


def run_eval(engine: LogQLEngine, store: MemoryLogStore, header: str, body: list[str]) -> str:
    m_logs = _EVAL_LOGS.match(header)
    exp = parse_expectations(body, logs=m_logs is not None)
    m_inst = _EVAL_INSTANT.match(header)
    m_range = _EVAL_RANGE.match(header)
    try:
        if m_logs:
            t0, t1 = _dur_ns(m_logs.group(1)), _dur_ns(m_logs.group(2))
            direction = m_logs.group(3) or "forward"
            limit = int(m_logs.group(4) or 1000)
            result: object = engine.query_range(store, m_logs.group(5), t0, t1, 0, direction, limit)
            return check_streams(result, exp)
        if m_inst:
            query = m_inst.group(2)
            steps = [_dur_ns(m_inst.group(1))]
            result = engine.query_instant(store, query, steps[0])
        elif m_range:
            t0, t1, step = (_dur_ns(m_range.group(k)) for k in (1, 2, 3))
            steps = np.arange(t0, t1 + 1, step).tolist()
            query = m_range.group(4)
            result = engine.query_range(store, query, t0, t1, step)
        else:
            raise ScriptError(f"bad eval: {header}")
    except (ParseError, QueryError) as exc:
        if exp.fail:
            return _check_failure(exc, exp)
        return f"unexpected error: {exc}"
    if exp.fail:
        return "expected failure, query succeeded"
    return check_result(result, exp, steps)


def run_file(path: Path) -> list[CaseResult]:
    lines = path.read_text().splitlines()
    store = MemoryLogStore()
    engine = LogQLEngine()
    results: list[CaseResult] = []
    i = 0
    while i < len(lines):
        line = strip_comment(lines[i])
        if not line.strip():
            i += 1
            continue
        if line.strip() == "clear":
            store.clear()
            i += 1
            continue
        j = i + 1
        block: list[str] = []
        while j < len(lines):
            nxt = strip_comment(lines[j])
            if not nxt.strip():
                if lines[j].strip() == "" or not lines[j].startswith((" ", "\t")):
                    break
                j += 1
                continue
            if not nxt.startswith((" ", "\t")):
                break
            block.append(nxt.strip())
            j += 1
        head = line.strip()
        if head == "load":
            for entry in block:
                load_line(store, entry)
        elif head.startswith("eval"):
            name = f"{path.name}:{i + 1}"
            try:
                msg = run_eval(engine, store, head, block)
            except Exception as exc:  # a crash is a failed case, not a broken run
                msg = f"crash: {type(exc).__name__}: {exc}"
            results.append(CaseResult(name, head, msg == "", msg))
        else:
            raise ScriptError(f"{path.name}:{i + 1}: unknown command {head!r}")
        i = j
    return results
