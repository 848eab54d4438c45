"""What the Pushgateway serves: the combined text exposition of all groups (its
``/metrics``, for a scrape job with ``honor_labels: true``) and its JSON API
(``/api/v1/metrics``).

Output order follows client_golang: families by name; within a family, metrics with
fewer labels first, then by label values in label-name order; histogram buckets in
pushed order, then ``_sum`` and ``_count``. Numbers are printed as Go's ``%g``-like
shortest form.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tidewatch.gofloat import format_float
from tidewatch.pushgateway.store import (
    PUSH_FAILURE_TIME,
    PUSH_FAILURE_TIME_HELP,
    PUSH_TIME,
    PUSH_TIME_HELP,
    Family,
    Group,
    PairLabels,
    PushStore,
    Sample,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n")


def _float_label(text: str) -> str:
    """``le``/``quantile`` re-printed from their value, as a parsed-and-rewritten family is."""
    try:
        return format_float(float(text))
    except ValueError:
        return text


def _sub_label(fam: Family) -> str:
    return {"histogram": "le", "summary": "quantile"}.get(fam.type, "")


def _metric_key(labels: PairLabels) -> tuple[int, tuple[str, ...]]:
    return len(labels), tuple(v for _, v in labels)


def _group_metrics(fam: Family) -> list[tuple[PairLabels, list[Sample]]]:
    """Samples grouped per metric (labels minus ``le``/``quantile``), in output order."""
    sub = _sub_label(fam)
    metrics: dict[PairLabels, list[Sample]] = {}
    for sample in fam.samples:
        ident = tuple(p for p in sample[1] if p[0] != sub) if sub else sample[1]
        metrics.setdefault(ident, []).append(sample)
    ordered = sorted(metrics.items(), key=lambda kv: _metric_key(kv[0]))
    if sub:
        for _, samples in ordered:
            samples.sort(key=lambda s: _sample_order(fam.name, s, sub))
    return ordered


def _sample_order(family: str, sample: Sample, sub: str) -> int:
    """Buckets/quantiles keep their pushed order (as the parsed family does), then sum, count."""
    name = sample[0]
    if name == family + "_sum":
        return 1
    if name == family + "_count":
        return 2
    return 0


def _time_family(name: str, help_text: str, groups: Iterable[Group], failure: bool) -> Family:
    fam = Family(name, "gauge", help_text)
    for g in groups:
        fam.samples.append((name, g.identity(), g.failure_time if failure else g.push_time))
    return fam


def merged_families(store: PushStore) -> list[Family]:
    """Every family across groups (plus the push-time gauges), merged by name, sorted."""
    merged: dict[str, Family] = {}
    # Oldest push first: when groups disagree on a family's help, the latest push wins
    # (the Pushgateway lets "the latter" win, in no defined order).
    for group in sorted(store.groups.values(), key=lambda g: (g.push_time, g.key)):
        for fam in group.families.values():
            have = merged.get(fam.name)
            if have is None:
                merged[fam.name] = Family(fam.name, fam.type, fam.help, list(fam.samples))
                continue
            have.help = fam.help
            have.samples.extend(fam.samples)
    groups = list(store.groups.values())
    if groups:
        merged[PUSH_TIME] = _time_family(PUSH_TIME, PUSH_TIME_HELP, groups, False)
        merged[PUSH_FAILURE_TIME] = _time_family(
            PUSH_FAILURE_TIME, PUSH_FAILURE_TIME_HELP, groups, True
        )
    return [merged[n] for n in sorted(merged)]


def _series(name: str, labels: PairLabels, sub: str) -> str:
    if not labels:
        return name
    parts = []
    for k, v in labels:
        parts.append(f'{k}="{_float_label(v) if k == sub else _escape_value(v)}"')
    return name + "{" + ",".join(parts) + "}"


def render_text(store: PushStore) -> bytes:
    """The text exposition (format 0.0.4) of every pushed group."""
    out: list[str] = []
    for fam in merged_families(store):
        if fam.help:
            out.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
        out.append(f"# TYPE {fam.name} {fam.type}")
        sub = _sub_label(fam)
        for _, samples in _group_metrics(fam):
            for name, labels, value in samples:
                if sub:
                    labels = _move_last(labels, sub)
                out.append(f"{_series(name, labels, sub)} {format_float(value)}")
    return ("\n".join(out) + "\n").encode() if out else b""


def _move_last(labels: PairLabels, sub: str) -> PairLabels:
    """``le``/``quantile`` go after the other labels, as expfmt writes them."""
    return tuple(p for p in labels if p[0] != sub) + tuple(p for p in labels if p[0] == sub)


def _timestamp(seconds: float) -> str:
    """RFC 3339 with nanoseconds, trailing zeros trimmed, as Go's ``RFC3339Nano``."""
    dt = datetime.fromtimestamp(seconds, UTC)
    frac = f"{dt.microsecond:06d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ("." + frac if frac else "") + "Z"


def _json_metric(fam: Family, ident: PairLabels, samples: list[Sample]) -> dict[str, Any]:
    entry: dict[str, Any] = {"labels": dict(ident)}
    sub = _sub_label(fam)
    if not sub:
        entry["value"] = format_float(samples[0][2])
        return entry
    points: dict[str, str] = {}
    for name, labels, value in samples:
        if name == fam.name + "_sum":
            entry["sum"] = format_float(value)
        elif name == fam.name + "_count":
            entry["count"] = format_float(value)
        else:
            points[_float_label(dict(labels).get(sub, ""))] = format_float(value)
    entry["buckets" if sub == "le" else "quantiles"] = points
    return entry


def render_json(store: PushStore) -> dict[str, Any]:
    """The Pushgateway's ``GET /api/v1/metrics`` document."""
    data = []
    for group in sorted(store.groups.values(), key=lambda g: g.key):
        stamp = _timestamp(group.last_change)
        entry: dict[str, Any] = {
            "labels": dict(group.key),
            "last_push_successful": group.last_push_successful,
        }
        fams = [*group.families.values()]
        fams.append(_time_family(PUSH_TIME, PUSH_TIME_HELP, [group], False))
        fams.append(_time_family(PUSH_FAILURE_TIME, PUSH_FAILURE_TIME_HELP, [group], True))
        for fam in fams:
            doc: dict[str, Any] = {"time_stamp": stamp, "type": fam.type.upper()}
            if fam.help:
                doc["help"] = fam.help
            doc["metrics"] = [_json_metric(fam, i, s) for i, s in _group_metrics(fam)]
            entry[fam.name] = doc
        data.append(entry)
    return {"status": "success", "data": data}
