"""A compiled LogQL pipeline, applied to a batch of entries of one stream.

Leading line filters run over the whole batch at once (``in``/``find`` on strings, one
RE2 call per line only for real regexes). The remaining stages run per kept line on a
mutable label dict; streams whose pipeline is filters only never build per-line labels.

Label naming follows Loki: structured metadata or parsed names that clash with a
stream label (parsed: also with metadata) are stored as ``<name>_extracted``; a
parser failure sets ``__error__`` / ``__error_details__`` and keeps the line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import re2

from tidewatch.labels import Labels
from tidewatch.logs.logql import ast
from tidewatch.logs.logql.ipfilter import line_has_ip, parse_ip_pattern
from tidewatch.logs.logql.lexer import go_parse_float
from tidewatch.logs.logql.parsers import (
    LineParseError,
    json_extract,
    parse_json_all,
    parse_json_path,
    parse_logfmt,
    parse_unpack,
    regexp_extractor,
    sanitize_key,
)
from tidewatch.logs.logql.patterns import compile_pattern, pattern_captures, pattern_test
from tidewatch.logs.logql.projection import JsonProjector, Projection, json_kernel_names
from tidewatch.logs.logql.store import StreamChunk
from tidewatch.logs.logql.template_funcs import LineContext, loki_funcs
from tidewatch.logs.logql.units import go_parse_duration_ns, parse_bytes
from tidewatch.matcher import Matcher, compile_regex
from tidewatch.templating import Template, TemplateError

ERROR = "__error__"
ERROR_DETAILS = "__error_details__"
JSON_ERR = "JSONParserErr"
LOGFMT_ERR = "LogfmtParserErr"
LABEL_FILTER_ERR = "LabelFilterErr"
TEMPLATE_ERR = "TemplateFormatErr"
SAMPLE_ERR = "SampleExtractionErr"

_ANSI = re2.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_REGEX_META = set("\\.+*?()|[]{}^$")

LinePred = Callable[[str], bool]


class PipelineError(ValueError):
    """A stage that cannot be built (bad template, bad json expression)."""


class Entry:
    """One line in flight: its text, time, labels, and the names it must not overwrite."""

    __slots__ = ("labels", "line", "meta", "stream", "ts")

    def __init__(
        self, line: str, ts: int, labels: dict[str, str], stream: dict[str, str], meta: set[str]
    ) -> None:
        self.line = line
        self.ts = ts
        self.labels = labels
        self.stream = stream
        self.meta = meta

    def set_parsed(self, pairs: Sequence[tuple[str, str]], seen: set[str]) -> None:
        lbls = self.labels
        for key, value in pairs:
            if key in self.stream or key in self.meta:
                key = key + "_extracted"
            if key in seen:
                continue  # a duplicate key in one line keeps the first
            seen.add(key)
            lbls[key] = value

    def set_error(self, err: str, details: str) -> None:
        if ERROR not in self.labels:
            self.labels[ERROR] = err
            self.labels[ERROR_DETAILS] = details


Stage = Callable[[Entry], bool]


# --------------------------------------------------------------------------- line filters


def _contains_pred(op: str, text: str) -> LinePred:
    if op == "|~" or op == "!~":
        if not any(c in _REGEX_META for c in text):
            return lambda line: text in line
        rx = compile_regex(text)
        search = rx.search
        return lambda line: search(line) is not None
    if op == "|>" or op == "!>":
        nodes = compile_pattern(text, need_capture=False)
        return lambda line: pattern_test(nodes, line)
    return lambda line: text in line


def line_filter_pred(f: ast.LineFilter) -> LinePred:
    """True when the line passes the filter."""
    negate = f.op in ("!=", "!~", "!>")
    preds: list[LinePred] = []
    for v in f.values:
        if v.is_ip:
            ip_pred = parse_ip_pattern(v.text)
            preds.append(lambda line, p=ip_pred: line_has_ip(line, p))  # type: ignore[misc]
        else:
            preds.append(_contains_pred(f.op, v.text))
    if len(preds) == 1:
        one = preds[0]
        return (lambda line: not one(line)) if negate else one
    if negate:
        return lambda line: not any(p(line) for p in preds)
    return lambda line: any(p(line) for p in preds)


def batch_line_filter(f: ast.LineFilter, lines: list[str], idx: list[int]) -> list[int]:
    """Indices (into ``lines``) among ``idx`` that pass; literal ``|=``/``!=`` without a loop body call."""
    if len(f.values) == 1 and not f.values[0].is_ip and f.op in ("|=", "!="):
        text = f.values[0].text
        if text == "":
            return idx if f.op == "|=" else []
        if f.op == "|=":
            return [i for i in idx if text in lines[i]]
        return [i for i in idx if text not in lines[i]]
    pred = line_filter_pred(f)
    return [i for i in idx if pred(lines[i])]


# --------------------------------------------------------------------------- label filters


def _compare(op: str, a: float, b: float) -> bool:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "<":
        return a < b
    return a <= b


def _convert(kind: str, text: str) -> float:
    if kind == "duration":
        return go_parse_duration_ns(text) / 1e9
    if kind == "bytes":
        return float(parse_bytes(text))
    try:
        return go_parse_float(text)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax') from None


def label_filter(expr: ast.LabelFilterExpr) -> Stage:
    if isinstance(expr, ast.StringLabelFilter):
        m = expr.matcher
        name = m.name
        matches = m.matches
        return lambda e: matches(e.labels.get(name, ""))
    if isinstance(expr, ast.NumericLabelFilter):
        return _numeric_filter(expr)
    if isinstance(expr, ast.IPLabelFilter):
        return _ip_filter(expr)
    left = label_filter(expr.left)
    right = label_filter(expr.right)
    if expr.op == "and":
        # As Loki: the right side runs even when the left fails (it may set an error).
        def both(e: Entry) -> bool:
            lok = left(e)
            rok = right(e)
            return lok and rok

        return both

    def either(e: Entry) -> bool:
        return left(e) or right(e)

    return either


def _numeric_filter(f: ast.NumericLabelFilter) -> Stage:
    name, op, want, kind = f.name, f.op, f.value, f.kind

    if name in (ERROR, ERROR_DETAILS):
        return lambda e: False  # a converting filter cannot read the error labels

    def run(e: Entry) -> bool:
        v = e.labels.get(name)
        if v is None:
            return False
        try:
            got = _convert(kind, v)
        except ValueError as exc:
            e.set_error(LABEL_FILTER_ERR, str(exc))
            return True
        return _compare(op, got, want)

    return run


def _ip_filter(f: ast.IPLabelFilter) -> Stage:
    pred = parse_ip_pattern(f.pattern)
    name, negate = f.name, f.negate

    def run(e: Entry) -> bool:
        if ERROR in e.labels:
            return True  # as Loki: an errored line passes, so its error reaches the result
        v = e.labels.get(name)
        if v is None:
            return False
        return line_has_ip(v, pred) != negate

    return run


# --------------------------------------------------------------------------- parsers and formatters


def _json_stage(p: ast.JSONParser) -> Stage:
    if p.extractions:
        try:
            paths = [(name, parse_json_path(path)) for name, path in p.extractions]
        except ValueError as exc:
            raise PipelineError(str(exc)) from None

        def extract(e: Entry) -> bool:
            try:
                pairs = json_extract(e.line, paths)
            except LineParseError as exc:
                e.set_error(JSON_ERR, str(exc))
                return True
            e.set_parsed(pairs, set())
            return True

        return extract

    def parse_all(e: Entry) -> bool:
        try:
            pairs = parse_json_all(e.line)
        except LineParseError as exc:
            e.set_error(JSON_ERR, str(exc))
            return True
        e.set_parsed(pairs, set())
        return True

    return parse_all


def _logfmt_stage(p: ast.LogfmtParser) -> Stage:
    strict, keep_empty = p.strict, p.keep_empty
    wanted = {src: name for name, src in p.extractions} if p.extractions else None

    def run(e: Entry) -> bool:
        try:
            raw = parse_logfmt(e.line, strict)
        except LineParseError as exc:
            e.set_error(LOGFMT_ERR, str(exc))
            return True
        lbls, stream, meta = e.labels, e.stream, e.meta
        seen: set[str] = set()
        for key, value in raw:
            if wanted is not None:
                if key not in wanted:
                    continue
                key = wanted[key]
            else:
                key = sanitize_key(key)
            if not value:
                if not keep_empty and wanted is None:
                    continue
                value = ""
            if key in stream or key in meta:
                key += "_extracted"
            if key not in seen:  # a duplicate key keeps the first
                seen.add(key)
                lbls[key] = value
        return True

    return run


def _regexp_stage(p: ast.RegexpParser) -> Stage:
    extract = regexp_extractor(p.pattern)

    def run(e: Entry) -> bool:
        e.set_parsed(extract(e.line), set())
        return True

    return run


def _pattern_stage(p: ast.PatternParser) -> Stage:
    nodes = compile_pattern(p.pattern, need_capture=True)

    def run(e: Entry) -> bool:
        e.set_parsed(pattern_captures(nodes, e.line), set())
        return True

    return run


def _unpack_stage(e: Entry) -> bool:
    try:
        pairs, entry = parse_unpack(e.line)
    except LineParseError as exc:
        e.set_error(JSON_ERR, str(exc))
        return True
    e.set_parsed(pairs, set())
    if entry is not None:
        e.line = entry
    return True


def _template(text: str) -> tuple[Template, LineContext]:
    ctx = LineContext()
    try:
        tmpl = Template("line", loki_funcs(ctx), missingkey_zero=True).parse(text)
    except TemplateError as exc:
        raise PipelineError(str(exc)) from None
    return tmpl, ctx


def _line_format_stage(p: ast.LineFormat) -> Stage:
    tmpl, ctx = _template(p.template)

    def run(e: Entry) -> bool:
        ctx.line, ctx.ts_ns = e.line, e.ts
        try:
            e.line = tmpl.execute(dict(e.labels))
        except TemplateError as exc:
            e.set_error(TEMPLATE_ERR, str(exc))
        return True

    return run


def _label_format_stage(p: ast.LabelFormat) -> Stage:
    items: list[tuple[str, str, tuple[Template, LineContext] | None]] = []
    for it in p.items:
        items.append((it.dst, it.src, _template(it.src) if it.is_template else None))

    def run(e: Entry) -> bool:
        snapshot = dict(e.labels)
        for dst, src, tmpl in items:
            if tmpl is None:
                if src in e.labels:
                    value = e.labels.pop(src)
                    e.labels[dst] = value
                continue
            t, ctx = tmpl
            ctx.line, ctx.ts_ns = e.line, e.ts
            try:
                e.labels[dst] = t.execute(snapshot)
            except TemplateError as exc:
                e.set_error(TEMPLATE_ERR, str(exc))
        return True

    return run


def _drop_keep_stage(p: ast.DropKeep) -> Stage:
    names = set(p.names)
    by_name: dict[str, list[Matcher]] = {}
    for m in p.matchers:
        by_name.setdefault(m.name, []).append(m)

    if p.keep:

        def keep(e: Entry) -> bool:
            lbls = e.labels
            for k in list(lbls):
                if k in names:
                    continue
                ms = by_name.get(k)
                if ms is not None and all(m.matches(lbls[k]) for m in ms):
                    continue
                del lbls[k]
            return True

        return keep

    def drop(e: Entry) -> bool:
        lbls = e.labels
        for k in names:
            lbls.pop(k, None)
        for k, ms in by_name.items():
            v = lbls.get(k)
            if v is not None and all(m.matches(v) for m in ms):
                del lbls[k]
        return True

    return drop


def _decolorize(e: Entry) -> bool:
    if "\x1b" in e.line:
        e.line = _ANSI.sub("", e.line)
    return True


def build_stage(stage: ast.Stage) -> Stage:
    if isinstance(stage, ast.LineFilter):
        pred = line_filter_pred(stage)
        return lambda e: pred(e.line)
    if isinstance(stage, ast.JSONParser):
        return _json_stage(stage)
    if isinstance(stage, ast.LogfmtParser):
        return _logfmt_stage(stage)
    if isinstance(stage, ast.RegexpParser):
        return _regexp_stage(stage)
    if isinstance(stage, ast.PatternParser):
        return _pattern_stage(stage)
    if isinstance(stage, ast.UnpackParser):
        return _unpack_stage
    if isinstance(stage, ast.LineFormat):
        return _line_format_stage(stage)
    if isinstance(stage, ast.LabelFormat):
        return _label_format_stage(stage)
    if isinstance(stage, ast.DropKeep):
        return _drop_keep_stage(stage)
    if isinstance(stage, ast.Decolorize):
        return _decolorize
    return label_filter(stage.expr)


# --------------------------------------------------------------------------- the pipeline


@dataclass
class Processed:
    """Kept entries of one chunk: index into the chunk, final line, final labels."""

    index: list[int]
    lines: list[str]
    labels: list[Labels]
    entries: list[Entry] | None = None  # kept for sample extraction
    uniform: Labels | None = None  # set when every kept entry has these labels


def _base_labels(stream: Labels, meta: Labels) -> tuple[dict[str, str], set[str]]:
    d = dict(stream)
    names: set[str] = set()
    for k, v in meta:
        key = k + "_extracted" if k in d else k
        d[key] = v
        names.add(k)
    return d, names


def _sorted_labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


class Pipeline:
    """``projection`` (metric queries under a ``sum``): the final labels of each entry
    are cut down to what the query's result can show, see :mod:`.projection`."""

    def __init__(self, stages: Sequence[ast.Stage], projection: Projection | None = None) -> None:
        n_lead = 0
        while n_lead < len(stages) and isinstance(stages[n_lead], ast.LineFilter):
            n_lead += 1
        self.leading: list[ast.LineFilter] = [
            s for s in stages[:n_lead] if isinstance(s, ast.LineFilter)
        ]
        self.stages: list[Stage] = [build_stage(s) for s in stages[n_lead:]]
        # Build leading filters once too, so a bad ip() or pattern fails at build time.
        for f in self.leading:
            line_filter_pred(f)
        self.projection = projection
        self._finish: Callable[[dict[str, str]], Labels] = (
            projection.apply if projection is not None else _sorted_labels
        )
        names = json_kernel_names(stages[n_lead:], projection)
        self._json = JsonProjector(names) if names is not None else None

    @property
    def filters_only(self) -> bool:
        return not self.stages

    def process(self, chunk: StreamChunk, keep_entries: bool = False) -> Processed:
        lines = chunk.lines
        idx = list(range(len(lines)))
        for f in self.leading[chunk.filtered :] if chunk.filtered else self.leading:
            if not idx:
                break
            idx = batch_line_filter(f, lines, idx)
        meta = chunk.metadata
        if meta is not None and not any(meta):
            meta = None
        if not self.stages and not keep_entries:
            return self._filters_only(chunk, idx, meta)
        if self._json is not None and meta is None and not keep_entries:
            return self._json_projected(chunk, idx, self._json)
        stream = dict(chunk.labels)
        base_cache: dict[Labels, tuple[dict[str, str], set[str]]] = {}
        kept_idx: list[int] = []
        kept_lines: list[str] = []
        kept_labels: list[Labels] = []
        kept_entries: list[Entry] = []
        ts = chunk.ts.tolist()
        stages = self.stages
        finish = self._finish
        empty_meta: Labels = ()
        for i in idx:
            m = meta[i] if meta is not None else empty_meta
            base = base_cache.get(m)
            if base is None:
                base = base_cache[m] = _base_labels(chunk.labels, m)
            e = Entry(lines[i], ts[i], dict(base[0]), stream, base[1])
            ok = True
            for st in stages:
                if not st(e):
                    ok = False
                    break
            if not ok:
                continue
            kept_idx.append(i)
            kept_lines.append(e.line)
            if keep_entries:
                kept_entries.append(e)
            else:
                kept_labels.append(finish(e.labels))
        return Processed(kept_idx, kept_lines, kept_labels, kept_entries if keep_entries else None)

    def _filters_only(
        self, chunk: StreamChunk, idx: list[int], meta: list[Labels] | None
    ) -> Processed:
        lines = chunk.lines
        if meta is None:
            lb = chunk.labels
            if self.projection is not None:
                lb = self.projection.apply_labels(lb)
            return Processed(idx, [lines[i] for i in idx], [lb] * len(idx), uniform=lb)
        cache: dict[Labels, Labels] = {}
        out_labels: list[Labels] = []
        for i in idx:
            m = meta[i]
            got = cache.get(m)
            if got is None:
                d, _ = _base_labels(chunk.labels, m)
                got = cache[m] = self._finish(d)
            out_labels.append(got)
        return Processed(idx, [lines[i] for i in idx], out_labels)

    def _json_projected(self, chunk: StreamChunk, idx: list[int], proj: JsonProjector) -> Processed:
        lines = chunk.lines
        filters = self.stages[1:]  # label filters only (see json_kernel_names)
        parsed, slow = proj.project(chunk.labels, lines, idx, with_stream=not filters)
        stream = dict(chunk.labels)
        ts = chunk.ts.tolist()
        finish = self._finish
        labels: list[Labels | None] = parsed
        if slow:
            for pos in slow:
                i = idx[pos]
                e = Entry(lines[i], ts[i], dict(stream), stream, set())
                for st in self.stages:
                    if not st(e):
                        labels[pos] = None
                        break
                else:
                    labels[pos] = finish(e.labels)
            slow_set = set(slow)
        if filters:
            no_meta: set[str] = set()
            for pos, i in enumerate(idx):
                pairs = parsed[pos]
                if pairs is None or (slow and pos in slow_set):
                    continue
                d = dict(stream)
                d.update(pairs)
                e = Entry(lines[i], ts[i], d, stream, no_meta)
                for st in filters:
                    if not st(e):
                        labels[pos] = None
                        break
                else:
                    labels[pos] = finish(e.labels)
        if not filters and not slow:
            out: list[Labels] = labels  # type: ignore[assignment]  # no None left
            return Processed(idx, [lines[i] for i in idx], out)
        kept = [pos for pos, lb in enumerate(labels) if lb is not None]
        kept_idx = [idx[pos] for pos in kept]
        kept_labels: list[Labels] = [labels[pos] for pos in kept]  # type: ignore[misc]
        return Processed(kept_idx, [lines[i] for i in kept_idx], kept_labels)


def unwrap_value(e: Entry, unwrap: ast.Unwrap) -> float | None:
    """The sample value of an entry, None to skip it (label absent or empty)."""
    text = e.labels.get(unwrap.label, "")
    if text == "":
        return None
    try:
        if unwrap.conversion == "duration":
            return go_parse_duration_ns(text) / 1e9
        if unwrap.conversion == "bytes":
            return float(parse_bytes(text))
        return _convert("number", text)
    except ValueError as exc:
        e.set_error(SAMPLE_ERR, str(exc))
        return 0.0
