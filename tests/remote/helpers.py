"""Request builders shared by the remote tests."""

from __future__ import annotations

from typing import Any

from tidewatch.remote import proto
from tidewatch.remote.codec import snappy_encode

V1_TYPE = "application/x-protobuf"
V2_TYPE = "application/x-protobuf;proto=io.prometheus.write.v2.Request"


def v1_body(
    series: list[tuple[list[tuple[str, str]], list[tuple[int, float]]]], **extra: Any
) -> bytes:
    req = proto.WriteRequest()
    for pairs, samples in series:
        ts = req.timeseries.add()
        for name, value in pairs:
            ts.labels.add(name=name, value=value)
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
    for name, mtype, help_text in extra.get("metadata", []):
        req.metadata.add(metric_family_name=name, type=mtype, help=help_text)
    return bytes(req.SerializeToString())


class V2Builder:
    """Builds an ``io.prometheus.write.v2.Request`` with an interned symbol table."""

    def __init__(self) -> None:
        self.req = proto.WriteRequestV2()
        self.symbols: dict[str, int] = {"": 0}

    def ref(self, s: str) -> int:
        if s not in self.symbols:
            self.symbols[s] = len(self.symbols)
        return self.symbols[s]

    def series(
        self,
        pairs: list[tuple[str, str]],
        samples: list[tuple[int, float]],
        exemplar: tuple[list[tuple[str, str]], float, int] | None = None,
        metadata: tuple[int, str, str] | None = None,
    ) -> Any:
        ts = self.req.timeseries.add()
        ts.labels_refs.extend(r for n, v in pairs for r in (self.ref(n), self.ref(v)))
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
        if exemplar:
            ex = ts.exemplars.add(value=exemplar[1], timestamp=exemplar[2])
            ex.labels_refs.extend(r for n, v in exemplar[0] for r in (self.ref(n), self.ref(v)))
        if metadata:
            ts.metadata.type = metadata[0]
            ts.metadata.help_ref = self.ref(metadata[1])
            ts.metadata.unit_ref = self.ref(metadata[2])
        return ts

    def body(self) -> bytes:
        self.req.symbols.extend(sorted(self.symbols, key=self.symbols.__getitem__))
        return bytes(self.req.SerializeToString())


def snappy(data: bytes) -> bytes:
    return snappy_encode(data)
