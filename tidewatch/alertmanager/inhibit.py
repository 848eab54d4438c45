"""Inhibition: an alert matching a rule's target matchers is muted while a firing
alert matching its source matchers has the same values for the ``equal`` labels
(a label missing on both sides counts as equal). As in Alertmanager, an alert that
matches both sides of a rule cannot be inhibited by another alert that also
matches both sides, so an alert never silences its own kind.

Source alerts are indexed per rule by their ``equal`` values, so a check costs a
dict lookup rather than a scan of every alert.
"""

from __future__ import annotations

from collections.abc import Iterable

from tidewatch.alertmanager.alert import Alert
from tidewatch.alertmanager.config import InhibitRule
from tidewatch.alertmanager.fingerprint import fingerprint
from tidewatch.labels import Labels
from tidewatch.matcher import Matcher


def _all_match(ms: list[Matcher], d: dict[str, str]) -> bool:
    return all(m.matches(d.get(m.name, "")) for m in ms)


class _RuleIndex:
    __slots__ = ("by_equal", "rule")

    def __init__(self, rule: InhibitRule) -> None:
        self.rule = rule
        # equal-label values -> fingerprint -> source alert
        self.by_equal: dict[tuple[str, ...], dict[int, Alert]] = {}

    def equal_key(self, d: dict[str, str]) -> tuple[str, ...]:
        return tuple(d.get(n, "") for n in self.rule.equal)


class Inhibitor:
    def __init__(self, rules: Iterable[InhibitRule]) -> None:
        self._rules = [_RuleIndex(r) for r in rules]
        self._where: dict[int, list[tuple[_RuleIndex, tuple[str, ...]]]] = {}

    def observe(self, alert: Alert) -> None:
        """Record the latest state of an alert (it may become or stop being a source)."""
        self.forget(alert.fingerprint)
        d = dict(alert.labels)
        places = []
        for ri in self._rules:
            if _all_match(ri.rule.source_matchers, d):
                key = ri.equal_key(d)
                ri.by_equal.setdefault(key, {})[alert.fingerprint] = alert
                places.append((ri, key))
        if places:
            self._where[alert.fingerprint] = places

    def forget(self, fp: int) -> None:
        for ri, key in self._where.pop(fp, ()):
            bucket = ri.by_equal.get(key)
            if bucket is not None:
                bucket.pop(fp, None)
                if not bucket:
                    del ri.by_equal[key]

    def inhibited_by(self, lbls: Labels, now_ms: int) -> str | None:
        """Fingerprint (hex) of an alert that inhibits this label set, or None."""
        d = dict(lbls)
        own_fp = fingerprint(lbls)
        for ri in self._rules:
            rule = ri.rule
            if not _all_match(rule.target_matchers, d):
                continue
            bucket = ri.by_equal.get(ri.equal_key(d))
            if not bucket:
                continue
            two_sided = _all_match(rule.source_matchers, d)
            for fp, src in bucket.items():
                if src.resolved_at(now_ms):
                    continue
                if two_sided and (
                    fp == own_fp or _all_match(rule.target_matchers, dict(src.labels))
                ):
                    continue
                return f"{fp:016x}"
        return None

    def mutes(self, lbls: Labels, now_ms: int) -> bool:
        return self.inhibited_by(lbls, now_ms) is not None
