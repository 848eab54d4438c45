"""``/federate`` rendering: each matching series' latest sample within the lookback
window, with its timestamp, in the text exposition format (0.0.4) or delimited
protobuf ``MetricFamily`` messages, as Prometheus's federation handler writes them.

Every family is ``untyped`` (as in Prometheus); external labels are appended to a
series' labels unless it already has a label of that name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tidewatch.gofloat import format_float
from tidewatch.labels import Labels
from tidewatch.matcher import Matcher
from tidewatch.remote import proto
from tidewatch.remote.codec import uvarint
from tidewatch.tsdb.interface import Storage
from tidewatch.value import stale_mask

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PROTO_CONTENT_TYPE = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)

# (metric name, labels without the name, value, timestamp ms)
FederatedSample = tuple[str, list[tuple[str, str]], float, int]


def latest_samples(
    storage: Storage,
    matcher_sets: Sequence[Sequence[Matcher]],
    now_ms: int,
    lookback_ms: int,
    external: Mapping[str, str],
) -> list[FederatedSample]:
    """The latest non-stale sample in ``[now - lookback, now]`` of every matching series."""
    q = storage.querier()
    try:
        found: dict[Labels, tuple[float, int]] = {}
        for matchers in matcher_sets:
            for s in q.select(list(matchers), now_ms - lookback_ms, now_ms):
                if s.labels in found or not len(s.ts):
                    continue
                if stale_mask(s.values[-1:])[0]:
                    continue  # a series that ended is not federated
                found[s.labels] = (float(s.values[-1]), int(s.ts[-1]))
    finally:
        q.close()
    ext_names = sorted(external)
    out: list[FederatedSample] = []
    for lbls, (value, t) in found.items():
        name = ""
        rest: list[tuple[str, str]] = []
        for k, v in lbls:
            if k == "__name__":
                name = v
            elif v:
                rest.append((k, v))
        if not name:
            continue  # Prometheus skips nameless series too
        have = {k for k, _ in rest}
        rest.extend((k, external[k]) for k in ext_names if k not in have)
        out.append((name, rest, value, t))
    out.sort(key=lambda s: (s[0], s[1]))
    return out


def go_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` as the text exposition writes values."""
    return format_float(value, "g")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_text(samples: list[FederatedSample]) -> bytes:
    lines: list[str] = []
    last = None
    for name, lbls, value, t in samples:
        if name != last:
            lines.append(f"# TYPE {name} untyped")
            last = name
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in lbls)
        series = f"{name}{{{inner}}}" if inner else name
        lines.append(f"{series} {go_float(value)} {t}")
    return ("\n".join(lines) + "\n").encode() if lines else b""


def render_protobuf(samples: list[FederatedSample]) -> bytes:
    """Length-delimited ``io.prometheus.client.MetricFamily`` messages."""
    parts: list[bytes] = []
    fam = None
    for name, lbls, value, t in samples:
        if fam is None or fam.name != name:
            if fam is not None:
                body = fam.SerializeToString()
                parts += [uvarint(len(body)), body]
            fam = proto.MetricFamily(name=name, type=proto.FAMILY_UNTYPED)
        metric = fam.metric.add(timestamp_ms=t)
        metric.untyped.value = value
        for k, v in lbls:
            metric.label.add(name=k, value=v)
    if fam is not None:
        body = fam.SerializeToString()
        parts += [uvarint(len(body)), body]
    return b"".join(parts)


def wants_protobuf(accept: str) -> bool:
    """Content negotiation as expfmt does it, limited to the two formats served here."""
    best_q = -1.0
    best_proto = False
    for entry in accept.split(","):
        fields = [f.strip() for f in entry.split(";")]
        media = fields[0].lower()
        params = {}
        for f in fields[1:]:
            k, _, v = f.partition("=")
            params[k.strip().lower()] = v.strip().strip('"')
        try:
            q = float(params.get("q", "1"))
        except ValueError:
            q = 0.0
        is_proto = (
            media == "application/vnd.google.protobuf"
            and params.get("proto") == "io.prometheus.client.MetricFamily"
            and params.get("encoding") == "delimited"
        )
        if (is_proto or media in ("text/plain", "*/*")) and q > best_q:
            best_q, best_proto = q, is_proto
    return best_proto
