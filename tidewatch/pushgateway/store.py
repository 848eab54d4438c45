"""Pushed metric groups: validation, PUT/POST/DELETE semantics, persistence.

Each group (one grouping key) holds metric families as pushed, with the grouping
labels set on every sample (they win over pushed labels, as in the Pushgateway) and
``instance=""`` added where no instance label exists. A push that would make the
combined exposition inconsistent (a family typed differently in another group, a
duplicate series, samples with timestamps) is refused and only recorded as a failed
push of that group. State is one JSON file, replaced atomically after each change.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tidewatch.ingest.exposition import ExpositionError, iter_samples, parse_exposition
from tidewatch.pushgateway import protobuf
from tidewatch.pushgateway.grouping import GroupingKey

STATE_FILE = "groups.json"
PUSH_TIME = "push_time_seconds"
PUSH_FAILURE_TIME = "push_failure_time_seconds"
PUSH_TIME_HELP = "Last Unix time when changing this group in the Pushgateway succeeded."
PUSH_FAILURE_TIME_HELP = "Last Unix time when changing this group in the Pushgateway failed."
INVALID_PREFIX = "pushed metrics are invalid or inconsistent with existing metrics: "

# Label pairs sorted by name; unlike tidewatch Labels, empty values are kept
# (the Pushgateway exposes ``instance=""``).
PairLabels = tuple[tuple[str, str], ...]
# (sample name, labels without __name__, value)
Sample = tuple[str, PairLabels, float]


class BadPush(ValueError):
    """A body that cannot be parsed (nothing is recorded)."""


class InconsistentPush(ValueError):
    """Valid syntax, but refused; the group's failure time is recorded."""


@dataclass
class Family:
    name: str
    type: str  # counter, gauge, histogram, summary, untyped
    help: str
    samples: list[Sample] = field(default_factory=list)


@dataclass
class Group:
    key: GroupingKey
    families: dict[str, Family] = field(default_factory=dict)
    push_time: float = 0.0  # Unix seconds of the last successful change, 0 = none
    failure_time: float = 0.0
    last_change: float = 0.0  # last attempt, successful or not

    @property
    def last_push_successful(self) -> bool:
        return self.push_time >= self.failure_time

    def identity(self) -> PairLabels:
        """The grouping labels as every sample of the group carries them."""
        d = dict(self.key)
        d.setdefault("instance", "")
        return tuple(sorted(d.items()))


def _family_of(name: str, meta: dict[str, str]) -> str:
    if name in meta:
        return name
    for suffix, types in (
        ("_bucket", ("histogram",)),
        ("_sum", ("histogram", "summary")),
        ("_count", ("histogram", "summary")),
    ):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if meta.get(base) in types:
                return base
    return name


def parse_push(body: bytes, key: GroupingKey) -> dict[str, Family]:
    """Families of a text-format body with the grouping labels applied."""
    try:
        parsed = parse_exposition(body, False)
    except ExpositionError as exc:
        raise BadPush(str(exc)) from None
    if any(t is not None for t in parsed.timestamps):
        raise InconsistentPush(INVALID_PREFIX + "pushed metrics must not have timestamps")
    types = {
        name: ("untyped" if m.type == "unknown" else m.type) for name, m in parsed.metadata.items()
    }
    families: dict[str, Family] = {}
    grouping = dict(key)
    try:
        samples = list(iter_samples(body, False))
    except ExpositionError as exc:
        raise BadPush(str(exc)) from None
    for lbls, _ts, value in samples:
        d = dict(lbls)
        name = d.pop("__name__")
        d.update(grouping)
        d.setdefault("instance", "")
        fam_name = _family_of(name, types)
        fam = families.get(fam_name)
        if fam is None:
            meta = parsed.metadata.get(fam_name)
            fam = Family(fam_name, types.get(fam_name, "untyped"), meta.help if meta else "")
            families[fam_name] = fam
        fam.samples.append((name, tuple(sorted(d.items())), value))
    return families


def parse_protobuf_push(body: bytes, key: GroupingKey) -> dict[str, Family]:
    """Families of a delimited-protobuf body with the grouping labels applied."""
    try:
        decoded = protobuf.decode_families(body)
        if protobuf.has_timestamps(decoded):
            raise InconsistentPush(INVALID_PREFIX + "pushed metrics must not have timestamps")
        families: dict[str, Family] = {}
        for mf in decoded:
            kind, metrics = protobuf.family_samples(mf)
            fam = families.get(mf.name)
            if fam is None:
                fam = families[mf.name] = Family(mf.name, kind, mf.help)
            for _, samples in metrics:
                for name, labels, value in samples:
                    fam.samples.append((name, protobuf.grouping_applied(labels, key), value))
    except protobuf.ProtobufPushError as exc:
        raise BadPush(str(exc)) from None
    return families


def format_pairs(labels: PairLabels) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


class PushStore:
    """All groups; mutate with :meth:`push` / :meth:`delete`, then :meth:`save`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.groups: dict[GroupingKey, Group] = {}

    # -- persistence -----------------------------------------------------------------
    @classmethod
    def open(cls, directory: str | Path) -> PushStore:
        store = cls(Path(directory))
        path = store.directory / STATE_FILE
        if path.exists():
            store._load(orjson.loads(path.read_bytes()))
        return store

    def _load(self, doc: dict[str, Any]) -> None:
        for g in doc.get("groups", []):
            key: GroupingKey = tuple((str(k), str(v)) for k, v in g["key"])
            group = Group(key, {}, g["push_time"], g["failure_time"], g.get("last_change", 0.0))
            for f in g["families"]:
                fam = Family(f["name"], f["type"], f["help"])
                fam.samples = [
                    (s[0], tuple((str(k), str(v)) for k, v in s[1]), float(s[2]))
                    for s in f["samples"]
                ]
                group.families[fam.name] = fam
            self.groups[key] = group

    def snapshot(self) -> bytes:
        """The state as JSON (call on the event loop; write it with :meth:`write`)."""
        groups = [
            {
                "key": g.key,
                "push_time": g.push_time,
                "failure_time": g.failure_time,
                "last_change": g.last_change,
                "families": [
                    {
                        "name": f.name,
                        "type": f.type,
                        "help": f.help,
                        # repr: exact, and NaN/Inf survive (JSON has no literal for them).
                        "samples": [(n, lbls, repr(v)) for n, lbls, v in f.samples],
                    }
                    for f in g.families.values()
                ],
            }
            for g in self.groups.values()
        ]
        return orjson.dumps({"version": 1, "groups": groups})

    def write(self, data: bytes) -> None:
        """Replace the state file atomically (blocking)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / (STATE_FILE + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.directory / STATE_FILE)

    # -- changes ---------------------------------------------------------------------
    def push(
        self,
        key: GroupingKey,
        body: bytes,
        replace_all: bool,
        now: float | None = None,
        is_protobuf: bool = False,
    ) -> None:
        """PUT (``replace_all``) or POST a body to a group; raises BadPush/InconsistentPush.

        ``is_protobuf``: the body is delimited ``MetricFamily`` messages, else text.
        """
        now = time.time() if now is None else now
        group = self.groups.get(key)
        try:
            # BadPush: nothing recorded, as the Pushgateway does
            new = parse_protobuf_push(body, key) if is_protobuf else parse_push(body, key)
            # The push-time gauges are the gateway's own: pushed ones are dropped silently.
            new.pop(PUSH_TIME, None)
            new.pop(PUSH_FAILURE_TIME, None)
            families = {} if replace_all or group is None else dict(group.families)
            families.update(new)
            self._check(key, families)
        except InconsistentPush:
            self._record_failure(key, now)
            raise
        if group is None:
            group = self.groups[key] = Group(key)
        group.families = families
        group.push_time = now
        group.last_change = now

    def record_failure(self, key: GroupingKey, now: float | None = None) -> None:
        self._record_failure(key, time.time() if now is None else now)

    def _record_failure(self, key: GroupingKey, now: float) -> None:
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(key)
        group.failure_time = now
        group.last_change = now

    def delete(self, key: GroupingKey) -> bool:
        return self.groups.pop(key, None) is not None

    def _check(self, key: GroupingKey, families: dict[str, Family]) -> None:
        for fam in families.values():
            seen: set[tuple[str, PairLabels]] = set()
            for other in self.groups.values():
                if other.key == key:
                    continue
                theirs = other.families.get(fam.name)
                if theirs is None:
                    continue
                if theirs.type != fam.type:
                    name, lbls, _ = fam.samples[0]
                    raise InconsistentPush(
                        INVALID_PREFIX + f'collected metric "{name}" {format_pairs(lbls)} '
                        f"is not a {theirs.type.upper()}"
                    )
                seen.update((s[0], s[1]) for s in theirs.samples)
            for name, lbls, _ in fam.samples:
                if (name, lbls) in seen:
                    raise InconsistentPush(
                        INVALID_PREFIX + f'collected metric "{name}" {format_pairs(lbls)} '
                        "was collected before with the same name and label values"
                    )
                seen.add((name, lbls))
