"""Parsers for the Prometheus text format 0.0.4 and OpenMetrics 1.0.

The scrape loop needs speed more than anything: most lines of an exposition are the
same series as in the previous scrape. :func:`parse_exposition` therefore does only
the cheap part per line — split off the raw series text (``b'name{a="b"}'``), the
value and the optional timestamp — and leaves label parsing to :func:`parse_series`,
which the scrape loop calls once per *new* series text and caches.

:func:`iter_samples` is the simple, fully-validating API (used by backfill import).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass, field

from tidewatch.labels import METRIC_NAME, Labels, from_dict
from tidewatch.tsdb.interface import Exemplar, MetricMetadata

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_TEXT_TYPES = {
    b"counter": "counter",
    b"gauge": "gauge",
    b"histogram": "histogram",
    b"summary": "summary",
    b"untyped": "unknown",
}
_OM_TYPES = {
    b"counter": "counter",
    b"gauge": "gauge",
    b"histogram": "histogram",
    b"gaugehistogram": "gaugehistogram",
    b"summary": "summary",
    b"info": "info",
    b"stateset": "stateset",
    b"unknown": "unknown",
}
# OpenMetrics caps the total length of an exemplar's label names and values.
_EXEMPLAR_MAX_LABEL_CHARS = 128


class ExpositionError(ValueError):
    """A malformed exposition; the message names the line and the problem."""


@dataclass
class ParsedExposition:
    """One exposition split into columns; ``keys[i]`` is the raw series text of sample i."""

    keys: list[bytes] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    timestamps: list[int | None] = field(default_factory=list)
    metadata: dict[str, MetricMetadata] = field(default_factory=dict)
    exemplars: dict[int, Exemplar] = field(default_factory=dict)  # sample index -> exemplar
    body: bytes = b""
    openmetrics: bool = False

    def error_for_key(self, key: bytes, problem: str) -> ExpositionError:
        """An error naming the line where ``key`` first appears (error path only)."""
        return ExpositionError(
            _format_error(self.openmetrics, line_number_of(self.body, key), problem)
        )


def _format_error(openmetrics: bool, lineno: int, problem: str) -> str:
    kind = "openmetrics" if openmetrics else "text"
    return f"{kind} format parsing error in line {lineno}: {problem}"


def line_number_of(body: bytes, key: bytes) -> int:
    """1-based number of the first line starting with ``key`` (0 if absent)."""
    if body.startswith(key):
        return 1
    pos = body.find(b"\n" + key)
    if pos < 0:
        stripped = body.find(key)
        return body.count(b"\n", 0, stripped) + 1 if stripped >= 0 else 0
    return body.count(b"\n", 0, pos + 1) + 1


# --- values ----------------------------------------------------------------------------


def _parse_value(tok: bytes) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise ValueError(f"strconv.ParseFloat: parsing {_q(tok)}: invalid syntax") from None
    # Python's float() accepts digit separators; Go's ParseFloat does not.
    if b"_" in tok:
        raise ValueError(f"strconv.ParseFloat: parsing {_q(tok)}: invalid syntax")
    return v


def _parse_text_ts(tok: bytes) -> int:
    if not tok.lstrip(b"-").isdigit():
        raise ValueError(f"strconv.ParseInt: parsing {_q(tok)}: invalid syntax")
    return int(tok)


def _parse_om_ts(tok: bytes) -> int:
    ts = _parse_value(tok)
    if ts != ts or ts in (float("inf"), float("-inf")):
        raise ValueError(f"invalid timestamp {_q(tok)}")
    return round(ts * 1000)


def _q(b: bytes) -> str:
    return '"' + b.decode("utf-8", "replace") + '"'


# --- names and label sets --------------------------------------------------------------


def is_valid_label_name(name: str) -> bool:
    """Legacy Prometheus label name: ``[a-zA-Z_][a-zA-Z0-9_]*``."""
    if not name or not name.isascii() or name[0].isdigit():
        return False
    return name.replace("_", "a").isalnum()


def is_valid_metric_name(name: str) -> bool:
    if not name or not name.isascii() or name[0].isdigit():
        return False
    return name.replace("_", "a").replace(":", "a").isalnum()


def _unescape(raw: bytes, quote: bool = True) -> str:
    """Undo ``\\\\``, ``\\n`` and (if ``quote``) ``\\"`` escapes; unknown escapes stay as written."""
    s = raw.decode("utf-8")
    if "\\" not in s:
        return s
    out: list[str] = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            nxt = s[i + 1]
            if nxt == "n":
                out.append("\n")
            elif nxt == "\\" or (quote and nxt == '"'):
                out.append(nxt)
            else:
                out.append("\\" + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _scan_quoted(b: bytes, pos: int) -> int:
    """``b[pos]`` is an opening quote; return the index just past the closing quote."""
    i = pos + 1
    n = len(b)
    while i < n:
        c = b[i]
        if c == 0x5C:  # backslash
            i += 2
            continue
        if c == 0x22:
            return i + 1
        i += 1
    raise ValueError("unterminated quoted string")


def _skip_ws(b: bytes, pos: int) -> int:
    n = len(b)
    while pos < n and b[pos] in (0x20, 0x09):
        pos += 1
    return pos


def _scan_name(b: bytes, pos: int) -> int:
    n = len(b)
    while pos < n:
        c = b[pos]
        if c == 0x5F or c == 0x3A or 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
            pos += 1
        else:
            break
    return pos


def _parse_labelset_slow(b: bytes, pos: int, out: dict[str, str], openmetrics: bool) -> int:
    """Parse ``{...}`` starting at ``b[pos] == '{'`` into ``out``; return the index after '}'.

    Handles escapes, whitespace and quoted (UTF-8) names, including a quoted metric name
    given as a bare string inside the braces.
    """
    i = pos + 1
    first = True
    while True:
        i = _skip_ws(b, i)
        if i >= len(b):
            raise ValueError("unexpected end of label set")
        if b[i] == 0x7D:  # '}'
            return i + 1
        if b[i] == 0x22:
            end = _scan_quoted(b, i)
            name = _unescape(b[i + 1 : end - 1])
        else:
            end = _scan_name(b, i)
            if end == i:
                raise ValueError(f"expected label name, got {_q(b[i : i + 1])}")
            name = b[i:end].decode()
            if not is_valid_label_name(name):
                raise ValueError(f"invalid label name {_q(b[i:end])}")
        j = _skip_ws(b, end)
        if j < len(b) and b[j] in (0x2C, 0x7D) and b[i] == 0x22:
            # A bare quoted string is the metric name (UTF-8 names syntax).
            if METRIC_NAME in out or not first:
                raise ValueError("metric name given twice")
            out[METRIC_NAME] = name
        else:
            if j >= len(b) or b[j] != 0x3D:  # '='
                raise ValueError(f"expected equal after label name {_q(name.encode())}")
            j = _skip_ws(b, j + 1)
            if j >= len(b) or b[j] != 0x22:
                raise ValueError(f"expected label value for label {_q(name.encode())}")
            vend = _scan_quoted(b, j)
            if name in out:
                raise ValueError(f"duplicate label name {_q(name.encode())}")
            out[name] = _unescape(b[j + 1 : vend - 1])
            j = vend
        first = False
        j = _skip_ws(b, j)
        if j < len(b) and b[j] == 0x2C:
            i = j + 1
            continue
        if j < len(b) and b[j] == 0x7D:
            return j + 1
        raise ValueError(f"expected comma or closing brace, got {_q(b[j : j + 1])}")


# Raw text before a label value (``b'code='`` first, ``b',code='`` after) -> label name.
# Label names repeat across series, so each distinct form is validated once.
_FIRST_HEADS: dict[bytes, str] = {}
_NEXT_HEADS: dict[bytes, str] = {}
_HEADS_MAX = 50_000


def _learn_head(head: bytes, first: bool) -> str | None:
    h = head.strip()
    if not first:
        if not h.startswith(b","):
            return None
        h = h[1:].lstrip()
    if not h.endswith(b"="):
        return None
    name = h[:-1].rstrip().decode("ascii", "replace")
    if not is_valid_label_name(name):
        return None
    heads = _FIRST_HEADS if first else _NEXT_HEADS
    if len(heads) > _HEADS_MAX:
        heads.clear()
    heads[head] = name
    return name


def _parse_labels_fast(inner: bytes, out: dict[str, str]) -> bool:
    """The common case: no escapes, no quoted names. Returns False to ask for the slow path.

    Without backslashes a value cannot contain a quote, so splitting on '"' alternates
    between ``name=`` parts and values.
    """
    parts = inner.split(b'"')
    n = len(parts)
    if not n & 1:
        return False
    last = parts[-1]
    if last and last.strip() not in (b"", b","):
        return False
    if n == 1:
        return True
    head = parts[0]
    name = _FIRST_HEADS.get(head) or _learn_head(head, True)
    if name is None or name in out:
        return False
    out[name] = parts[1].decode("utf-8")
    nexts = _NEXT_HEADS
    for k in range(2, n - 1, 2):
        head = parts[k]
        name = nexts.get(head) or _learn_head(head, False)
        if name is None or name in out:
            return False
        out[name] = parts[k + 1].decode("utf-8")
    return True


def parse_series(key: bytes, openmetrics: bool = False) -> dict[str, str]:
    """Labels (with ``__name__``) of one raw series text; raises ``ValueError`` if malformed."""
    brace = key.find(b"{")
    out: dict[str, str] = {}
    if brace < 0:
        name = key.strip().decode("ascii", "replace")
        if not is_valid_metric_name(name):
            raise ValueError(f"invalid metric name {_q(key.strip())}")
        out[METRIC_NAME] = name
        return out
    head = key[:brace].strip()
    if head:
        name = head.decode("ascii", "replace")
        if not is_valid_metric_name(name):
            raise ValueError(f"invalid metric name {_q(head)}")
        out[METRIC_NAME] = name
    if not key.endswith(b"}"):
        raise ValueError(f"expected closing brace in {_q(key)}")
    inner = key[brace + 1 : -1]
    if b"\\" in inner or not _parse_labels_fast(inner, out):
        out = {METRIC_NAME: out[METRIC_NAME]} if head else {}
        end = _parse_labelset_slow(key, brace, out, openmetrics)
        if end != len(key):
            raise ValueError(f"unexpected text after label set: {_q(key[end:])}")
    if not out.get(METRIC_NAME):
        raise ValueError("metric name missing")
    return out


def _series_end(line: bytes) -> int:
    """Index just past the series part of a sample line (quote-aware)."""
    brace = line.find(b"{")
    space = line.find(b" ")
    if brace < 0 or (0 <= space < brace and line[:space].strip()):
        return space if space >= 0 else len(line)
    return _parse_labelset_slow(line, brace, {}, True)


def _parse_exemplar(text: bytes, openmetrics: bool) -> Exemplar:
    text = text.strip()
    if not text.startswith(b"{"):
        raise ValueError("expected label set for exemplar")
    lbls: dict[str, str] = {}
    end = _parse_labelset_slow(text, 0, lbls, openmetrics)
    if sum(len(k) + len(v) for k, v in lbls.items()) > _EXEMPLAR_MAX_LABEL_CHARS:
        raise ValueError("exemplar labels have more than 128 characters")
    rest = text[end:].split()
    if not rest or len(rest) > 2:
        raise ValueError("expected value (and optional timestamp) after exemplar labels")
    value = _parse_value(rest[0])
    ts = _parse_om_ts(rest[1]) if len(rest) == 2 else 0
    return Exemplar(labels=from_dict(lbls), value=value, ts=ts)


# --- whole expositions -----------------------------------------------------------------


def _unescape_help(raw: bytes, openmetrics: bool) -> str:
    # The text format escapes only backslash and newline in HELP; OpenMetrics also quotes.
    return _unescape(raw, quote=openmetrics)


def _handle_comment(line: bytes, out: ParsedExposition, openmetrics: bool) -> bool:
    """Record HELP/TYPE/UNIT; return True when the line is ``# EOF``."""
    if openmetrics and line.rstrip() == b"# EOF":
        return True
    parts = line.split(None, 3)
    if len(parts) < 3 or parts[0] != b"#" or parts[1] not in (b"HELP", b"TYPE", b"UNIT"):
        if openmetrics and not line.startswith(b"# "):
            raise ValueError("invalid comment line")
        return False
    kind = parts[1]
    name = parts[2].decode("utf-8")
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:
        name = name[1:-1]
    text = parts[3] if len(parts) == 4 else b""
    meta = out.metadata.get(name)
    if meta is None:
        meta = out.metadata[name] = MetricMetadata(type="unknown")
    if kind == b"HELP":
        meta.help = _unescape_help(text.strip(b" \t\r"), openmetrics)
    elif kind == b"TYPE":
        types = _OM_TYPES if openmetrics else _TEXT_TYPES
        t = types.get(text.strip())
        if t is None:
            raise ValueError(f"invalid metric type {_q(text.strip())}")
        meta.type = t
    else:
        if not openmetrics:
            return False
        meta.unit = text.strip().decode("utf-8")
    return False


def parse_exposition(
    body: bytes, openmetrics: bool, known: Container[bytes] = frozenset()
) -> ParsedExposition:
    """Split an exposition into per-sample columns without parsing label sets.

    Raises :class:`ExpositionError` for structural problems (bad value or timestamp,
    bad comment, missing ``# EOF`` in OpenMetrics). Label syntax is checked by
    :func:`parse_series` when the caller meets a series text for the first time.

    ``known`` holds series texts already validated (the scrape cache): a line that is
    such a text, one space and a value takes a shortcut of one ``rpartition``.
    """
    out = ParsedExposition(body=body, openmetrics=openmetrics)
    keys = out.keys
    values = out.values
    tss = out.timestamps
    add_key = keys.append
    add_value = values.append
    add_ts = tss.append
    parse_ts = _parse_om_ts if openmetrics else _parse_text_ts
    seen_eof = False
    lineno = 0
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    try:
        for lineno, line in enumerate(lines, 1):  # noqa: B007 - lineno is read in the error path
            head, _, tail = line.rpartition(b" ")
            if head in known:
                try:
                    add_value(float(tail))
                except ValueError:
                    pass  # let the full path below report it
                else:
                    add_ts(None)
                    add_key(head)
                    continue
            if not line:
                if openmetrics:
                    raise ValueError("unexpected empty line")
                continue
            c = line[0]
            if c == 0x23:  # '#'
                if _handle_comment(line, out, openmetrics):
                    seen_eof = True
                    break
                continue
            if c == 0x20 or c == 0x09 or c == 0x0D:
                if openmetrics:
                    raise ValueError("unexpected leading whitespace")
                line = line.strip()
                if not line:
                    continue
                if line[0] == 0x23:
                    _handle_comment(line, out, openmetrics)
                    continue
            if openmetrics and b"#" in line:
                end = _series_end(line)
                key = line[:end]
                sample_part, sep, ex_part = line[end:].partition(b" # ")
                rest = sample_part.split()
                if sep:
                    out.exemplars[len(keys)] = _parse_exemplar(ex_part, openmetrics)
            else:
                close = line.rfind(b"}")
                if close >= 0:
                    key = line[: close + 1]
                    rest = line[close + 1 :].split()
                else:
                    rest = line.split()
                    key = rest.pop(0)
            n = len(rest)
            if n == 1:
                add_value(_parse_value(rest[0]))
                add_ts(None)
            elif n == 2:
                add_value(_parse_value(rest[0]))
                add_ts(parse_ts(rest[1]))
            elif n == 0:
                raise ValueError(f"expected value after metric, got {_q(line)}")
            else:
                raise ValueError(f"unexpected text after timestamp: {_q(b' '.join(rest[2:]))}")
            add_key(key)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ExpositionError(_format_error(openmetrics, lineno, str(exc))) from None
    if seen_eof and lineno < len(lines):
        raise ExpositionError(_format_error(openmetrics, lineno + 1, "unexpected data after # EOF"))
    if openmetrics and not seen_eof:
        raise ExpositionError("openmetrics format parsing error: data does not end with # EOF")
    return out


def iter_samples(body: bytes, openmetrics: bool) -> Iterator[tuple[Labels, int | None, float]]:
    """Every sample as ``(labels incl. __name__, timestamp ms or None, value)``, validated."""
    parsed = parse_exposition(body, openmetrics)
    cache: dict[bytes, Labels] = {}
    for key, ts, value in zip(parsed.keys, parsed.timestamps, parsed.values, strict=True):
        lbls = cache.get(key)
        if lbls is None:
            try:
                d = parse_series(key, openmetrics)
                lbls = tuple(sorted(d.items())) if "" not in d.values() else from_dict(d)
            except (ValueError, UnicodeDecodeError) as exc:
                raise parsed.error_for_key(key, str(exc)) from None
            cache[key] = lbls
        yield lbls, ts, value


def metadata_of(body: bytes, openmetrics: bool) -> dict[str, MetricMetadata]:
    """HELP/TYPE/UNIT by metric family name."""
    return parse_exposition(body, openmetrics).metadata
