"""Smaller Promtail stages: ``decolorize``, ``sampling``, ``pack``, ``tenant``."""

from __future__ import annotations

import random
import time

import orjson
import re2

from tidewatch.config.yamlnodes import MapView
from tidewatch.logs.agent.stages.base import (
    Entry,
    PipelineStats,
    Stage,
    StageBuild,
    get_string,
)

_ANSI = re2.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


class DecolorizeStage(Stage):
    name = "decolorize"

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            if "\x1b" in e.line:  # most lines have no escape codes: skip the regex
                e.line = _ANSI.sub("", e.line)
        return entries


def build_decolorize(view: MapView, build: StageBuild) -> Stage:
    return DecolorizeStage()


class SamplingStage(Stage):
    name = "sampling"

    def __init__(self, rate: float, reason: str, stats: PipelineStats) -> None:
        self.rate = rate
        self.reason = reason
        self.stats = stats
        self.random = random.Random()

    def process(self, entries: list[Entry]) -> list[Entry]:
        rnd, rate = self.random.random, self.rate
        out = [e for e in entries if rnd() < rate]
        if len(out) != len(entries):
            self.stats.dropped[self.reason] += len(entries) - len(out)
        return out


def build_sampling(view: MapView, build: StageBuild) -> Stage:
    rate = view.number("rate", 1.0)
    if not 0.0 <= rate <= 1.0:
        raise view.error("rate", "sampling rate must be between 0 and 1")
    return SamplingStage(rate, view.string("drop_counter_reason", "sampling_stage"), build.stats)


class PackStage(Stage):
    """Moves the named labels (or extracted values) into a JSON line with ``_entry``."""

    name = "pack"

    def __init__(self, names: list[str], ingest_timestamp: bool) -> None:
        self.names = sorted(set(names))
        self.ingest_timestamp = ingest_timestamp

    def process(self, entries: list[Entry]) -> list[Entry]:
        now = time.time_ns()
        for i, e in enumerate(entries):
            doc: dict[str, str] = {}
            for n in self.names:
                if n in e.labels:
                    doc[n] = e.labels.pop(n)
                elif n in e.extracted and isinstance(e.extracted[n], str):
                    doc[n] = e.extracted[n]
            doc["_entry"] = e.line
            e.line = orjson.dumps(doc).decode()
            if self.ingest_timestamp:
                e.ts = now + i  # streams merged into one stay in order
        return entries


def build_pack(view: MapView, build: StageBuild) -> Stage:
    names = view.str_list("labels")
    if not names:
        raise view.error("labels", "pack stage needs at least one label")
    return PackStage(names, view.boolean("ingest_timestamp", True))


TENANT_LABEL = "__tenant_id__"  # read by the HTTP sink (X-Scope-OrgID), never stored


class TenantStage(Stage):
    name = "tenant"

    def __init__(self, label: str, source: str, value: str) -> None:
        self.label = label
        self.source = source
        self.value = value

    def process(self, entries: list[Entry]) -> list[Entry]:
        for e in entries:
            tenant = self.value
            if self.label:
                tenant = e.labels.get(self.label, "")
            elif self.source:
                try:
                    tenant = get_string(e.extracted.get(self.source))
                except TypeError:
                    tenant = ""
            if tenant:
                e.labels[TENANT_LABEL] = tenant
        return entries


def build_tenant(view: MapView, build: StageBuild) -> Stage:
    label, source, value = view.string("label"), view.string("source"), view.string("value")
    if sum(map(bool, (label, source, value))) != 1:
        raise view.error_here("tenant stage needs exactly one of label, source or value")
    return TenantStage(label, source, value)
