"""Shared set-up for rule tests: a group over the in-memory unit-test storage."""

from __future__ import annotations

from tidewatch.labels import Labels, from_dict
from tidewatch.matcher import Matcher, MatchType
from tidewatch.promql.engine import Engine
from tidewatch.rules.group import Group, GroupOptions
from tidewatch.rules.query import engine_query_func
from tidewatch.rules.rulefile import parse_rule_text
from tidewatch.rules.teststore import UnitTestStorage
from tidewatch.tsdb.interface import Storage
from tidewatch.value import is_stale


def make_group(
    text: str,
    storage: Storage | None = None,
    *,
    interval_ms: int = 60_000,
    external_labels: dict[str, str] | None = None,
    external_url: str = "",
    restore: bool = False,
    query_offset_ms: int = 0,
) -> tuple[Group, Storage]:
    store: Storage = storage if storage is not None else UnitTestStorage()
    (gdef,) = parse_rule_text(text, "rules.yml")
    group = Group(
        gdef,
        storage=store,
        query=engine_query_func(Engine(), store),
        interval_ms=interval_ms,
        query_offset_ms=query_offset_ms,
        options=GroupOptions(external_labels=external_labels or {}, external_url=external_url),
        restore=restore,
        log_failures=False,
    )
    return group, store


def series(store: Storage, name: str, t_from: int = 0, t_to: int = 2**62) -> dict[Labels, list]:
    """All samples of a metric, stale markers shown as the string "stale"."""
    q = store.querier()
    try:
        out = {}
        for s in q.select([Matcher(MatchType.EQUAL, "__name__", name)], t_from, t_to):
            out[s.labels] = [
                (int(t), "stale" if is_stale(float(v)) else float(v))
                for t, v in zip(s.ts, s.values, strict=True)
            ]
        return out
    finally:
        q.close()


def lbls(**kw: str) -> Labels:
    return from_dict(kw)
