"""The labels of the series a queue's log declared, kept per queue ref in the form the
queue's protocol encodes from: 1.0 ``Label`` bytes, or 2.0 symbol ids (plus the metric
name, to attach the family's metadata)."""

from __future__ import annotations

from collections.abc import Callable

from tidewatch.labels import Labels
from tidewatch.remote import proto
from tidewatch.remote.send.encode import encode_labels
from tidewatch.remote.send.encode_v2 import SymbolTable, family_metadata, metadata_ids
from tidewatch.remote.write import PROTO_V2
from tidewatch.tsdb.interface import MetricMetadata

_NO_METADATA = (0, 0, 0)

# Rebuild the symbol table once it holds this many times the strings still in use.
_SYMBOL_SLACK = 2
_MIN_SYMBOLS_TO_REBUILD = 4096


class SeriesLabels:
    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.v1: dict[int, bytes] = {}
        self.v2: dict[int, bytes] = {}
        self.names: dict[int, str] = {}  # 2.0 only
        self.table = SymbolTable()
        # 2.0 only: per series, its family's metadata as ``metadata_ids`` (0s: none),
        # valid for one version of the metadata the queue was given.
        self.metadata: dict[int, tuple[int, int, int]] = {}
        self.metadata_version = -1

    @property
    def is_v2(self) -> bool:
        return self.protocol == PROTO_V2

    def __contains__(self, ref: int) -> bool:
        return ref in (self.v2 if self.is_v2 else self.v1)

    def __len__(self) -> int:
        return len(self.v2 if self.is_v2 else self.v1)

    def add(self, ref: int, lbls: Labels) -> None:
        if self.is_v2:
            self.v2[ref] = self.table.label_ids(lbls)
            # The table's own string: one object per distinct name in memory.
            name = next((v for k, v in lbls if k == "__name__"), "")
            self.names[ref] = self.table.strings[self.table.intern(name)]
        else:
            self.v1[ref] = encode_labels(lbls)

    def labels(self, ref: int) -> Labels:
        if self.is_v2:
            return self.table.labels(self.v2[ref])
        ts = proto.TimeSeries.FromString(self.v1[ref])
        return tuple((lb.name, lb.value) for lb in ts.labels)

    def metadata_ids(
        self, refs: list[int], known: Callable[[], dict[str, MetricMetadata]], version: int
    ) -> dict[int, tuple[int, int, int]]:
        """Per-series metadata ids covering ``refs``, computed once per series and
        metadata version (``known`` is only called when something must be looked up)."""
        if version != self.metadata_version:
            self.metadata, self.metadata_version = {}, version
        out = self.metadata
        missing = [r for r in refs if r not in out]
        if missing:
            families = known()
            by_name: dict[str, tuple[int, int, int]] = {}
            for ref in missing:
                name = self.names.get(ref, "")
                ids = by_name.get(name)
                if ids is None:
                    md = family_metadata(name, families)
                    ids = by_name[name] = metadata_ids(md, self.table) if md else _NO_METADATA
                out[ref] = ids
        return out

    def keep_only(self, keep: set[int]) -> None:
        if not self.is_v2:
            self.v1 = {r: b for r, b in self.v1.items() if r in keep}
            return
        self.v2 = {r: ids for r, ids in self.v2.items() if r in keep}
        self.names = {r: n for r, n in self.names.items() if r in keep}
        self.metadata = {r: m for r, m in self.metadata.items() if r in keep}
        in_use = sum(len(ids) for ids in self.v2.values()) // 4 + 1
        if len(self.table) > max(_MIN_SYMBOLS_TO_REBUILD, _SYMBOL_SLACK * in_use):
            self._rebuild_table()

    def _rebuild_table(self) -> None:
        """Forget strings no kept series uses (series churn would grow it forever)."""
        old = self.table
        self.table = SymbolTable()
        self.metadata, self.metadata_version = {}, -1  # its ids named the old table
        for ref, ids in list(self.v2.items()):
            lbls = old.labels(ids)
            self.v2[ref] = self.table.label_ids(lbls)
            self.names[ref] = next((v for k, v in lbls if k == "__name__"), "")

    def switch(self, protocol: str) -> None:
        """Re-key every series for another protocol (a reload changed protobuf_message)."""
        if protocol == self.protocol:
            return
        everything = [(ref, self.labels(ref)) for ref in (self.v2 if self.is_v2 else self.v1)]
        self.protocol = protocol
        self.v1, self.v2, self.names = {}, {}, {}
        self.table = SymbolTable()
        self.metadata, self.metadata_version = {}, -1
        for ref, lbls in everything:
            self.add(ref, lbls)
