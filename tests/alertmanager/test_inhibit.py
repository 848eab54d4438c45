"""Inhibition as Alertmanager does it: firing sources only, equal labels (missing on
both sides counts as equal), and no self-inhibition for two-sided matches."""

from __future__ import annotations

from tidewatch.alertmanager.alert import Alert
from tidewatch.alertmanager.config import load_config
from tidewatch.alertmanager.inhibit import Inhibitor
from tidewatch.labels import from_dict

NOW = 1_700_000_000_000

CFG = """
route: {receiver: a}
receivers: [{name: a}]
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname, cluster]
  - source_match: {alertname: NodeDown}
    target_match_re: {alertname: ".+"}
    equal: [instance]
"""


def _alert(ends_at: int = 0, **labels: str) -> Alert:
    return Alert(from_dict(labels), starts_at=NOW - 1000, ends_at=ends_at)


def _inhibitor(*alerts: Alert) -> Inhibitor:
    ih = Inhibitor(load_config(CFG).inhibit_rules)
    for a in alerts:
        ih.observe(a)
    return ih


def test_source_inhibits_target_with_equal_labels() -> None:
    src = _alert(alertname="Disk", cluster="c1", severity="critical")
    ih = _inhibitor(src)
    target = from_dict({"alertname": "Disk", "cluster": "c1", "severity": "warning"})
    assert ih.inhibited_by(target, NOW) == f"{src.fingerprint:016x}"
    other_cluster = from_dict({"alertname": "Disk", "cluster": "c2", "severity": "warning"})
    assert not ih.mutes(other_cluster, NOW)
    assert not ih.mutes(from_dict({"alertname": "Disk", "cluster": "c1"}), NOW)


def test_missing_equal_labels_on_both_sides_are_equal() -> None:
    ih = _inhibitor(_alert(alertname="Disk", severity="critical"))
    assert ih.mutes(from_dict({"alertname": "Disk", "severity": "warning"}), NOW)
    assert not ih.mutes(
        from_dict({"alertname": "Disk", "cluster": "x", "severity": "warning"}), NOW
    )


def test_resolved_source_does_not_inhibit_and_forget_removes() -> None:
    src = _alert(ends_at=NOW - 1, alertname="Disk", severity="critical")
    ih = _inhibitor(src)
    assert not ih.mutes(from_dict({"alertname": "Disk", "severity": "warning"}), NOW)
    live = _alert(alertname="Disk", severity="critical")
    ih.observe(live)
    assert ih.mutes(from_dict({"alertname": "Disk", "severity": "warning"}), NOW)
    ih.forget(live.fingerprint)
    assert not ih.mutes(from_dict({"alertname": "Disk", "severity": "warning"}), NOW)


def test_no_self_inhibition_when_both_sides_match() -> None:
    # NodeDown matches the source and (alertname=~".+") the target of rule 2.
    down = _alert(alertname="NodeDown", instance="h1")
    ih = _inhibitor(down)
    assert not ih.mutes(down.labels, NOW)
    # ...but it inhibits other alerts on the same instance.
    assert ih.mutes(from_dict({"alertname": "HighLoad", "instance": "h1"}), NOW)
    assert not ih.mutes(from_dict({"alertname": "HighLoad", "instance": "h2"}), NOW)
    # A second NodeDown on the same instance (different labels) is not inhibited either:
    # both sides of the rule match both alerts.
    other = from_dict({"alertname": "NodeDown", "instance": "h1", "job": "x"})
    assert not ih.mutes(other, NOW)


def test_observe_replaces_previous_state() -> None:
    src = _alert(alertname="Disk", severity="critical")
    ih = _inhibitor(src)
    ih.observe(Alert(src.labels, starts_at=NOW - 1000, ends_at=NOW - 10))  # resolved update
    assert not ih.mutes(from_dict({"alertname": "Disk", "severity": "warning"}), NOW)
