"""Alert state machine, ALERTS series, templates, keep_firing_for, recording rules."""

from __future__ import annotations

from tests.rules.helpers import lbls, make_group, series
from tidewatch.rules.alerting import AlertingRule, AlertState
from tidewatch.rules.teststore import UnitTestStorage

M = 60_000

ALERT_RULES = """
groups:
  - name: g
    rules:
      - alert: HighValue
        expr: metric > 5
        for: 2m
        labels:
          severity: page
          level: "{{ if gt $value 8.0 }}high{{ else }}low{{ end }}"
        annotations:
          summary: "{{ $labels.instance }} is at {{ $value }} ({{ $value | humanize }})"
          ext: "{{ $externalLabels.cluster }} {{ $externalURL }}"
"""


def load(store: UnitTestStorage, values: list[float | None], instance: str = "a") -> None:
    for i, v in enumerate(values):
        if v is not None:
            store.add(lbls(__name__="metric", instance=instance), i * M, v)


def rule_of(group) -> AlertingRule:  # type: ignore[no-untyped-def]
    rule = group.rules[0]
    assert isinstance(rule, AlertingRule)
    return rule


def test_pending_then_firing_then_resolved() -> None:
    store = UnitTestStorage()
    load(store, [1, 6, 6, 6, 6, 1])
    group, _ = make_group(ALERT_RULES, store)
    rule = rule_of(group)
    states = []
    for i in range(6):
        group.eval(i * M)
        states.append(str(rule.state()))
    assert states == ["inactive", "pending", "pending", "firing", "firing", "inactive"]
    # The resolved alert is kept (to send its resolution) but no longer active.
    assert rule.active_alerts() == []
    (resolved,) = rule.active.values()
    assert (resolved.active_at_ms, resolved.fired_at_ms, resolved.resolved_at_ms) == (
        1 * M,
        3 * M,
        5 * M,
    )

    alerts = series(store, "ALERTS")
    base = {"alertname": "HighValue", "instance": "a", "severity": "page", "level": "low"}
    pending = lbls(**base, __name__="ALERTS", alertstate="pending")
    firing = lbls(**base, __name__="ALERTS", alertstate="firing")
    assert alerts == {
        pending: [(1 * M, 1.0), (2 * M, 1.0), (3 * M, "stale")],
        firing: [(3 * M, 1.0), (4 * M, 1.0), (5 * M, "stale")],
    }
    (for_state,) = series(store, "ALERTS_FOR_STATE").values()
    assert for_state == [
        (1 * M, 60.0),
        (2 * M, 60.0),
        (3 * M, 60.0),
        (4 * M, 60.0),
        (5 * M, "stale"),
    ]


def test_label_template_change_starts_a_new_alert() -> None:
    store = UnitTestStorage()
    load(store, [6, 6, 9])
    group, _ = make_group(ALERT_RULES, store)
    for i in range(3):
        group.eval(i * M)
    (alert,) = rule_of(group).active_alerts()
    assert dict(alert.labels)["level"] == "high"
    assert alert.state == AlertState.PENDING and alert.active_at_ms == 2 * M


def test_annotation_templates_use_labels_value_and_external() -> None:
    store = UnitTestStorage()
    load(store, [9, 9, 9, 9])
    group, _ = make_group(
        ALERT_RULES, store, external_labels={"cluster": "eu1"}, external_url="http://tw"
    )
    for i in range(4):
        group.eval(i * M)
    (alert,) = rule_of(group).active_alerts()
    assert alert.state == AlertState.FIRING
    ann = dict(alert.annotations)
    assert ann["summary"] == "a is at 9 (9)"
    assert ann["ext"] == "eu1 http://tw"
    assert dict(alert.labels)["level"] == "high"


def test_template_error_is_shown_in_annotation() -> None:
    rules = """
groups:
  - name: g
    rules:
      - alert: A
        expr: vector(1)
        annotations:
          bad: "{{ index $labels 1 2 }}"
"""
    group, _ = make_group(rules)
    group.eval(0)
    (alert,) = rule_of(group).active_alerts()
    assert dict(alert.annotations)["bad"].startswith("<error expanding template: ")


def test_for_zero_fires_at_once_and_query_template() -> None:
    rules = """
groups:
  - name: g
    rules:
      - alert: Always
        expr: vector(1)
        annotations:
          count: '{{ with query "count(metric)" }}{{ . | first | value }}{{ end }}'
"""
    store = UnitTestStorage()
    load(store, [1], "a")
    load(store, [1], "b")
    group, _ = make_group(rules, store)
    group.eval(0)
    (alert,) = rule_of(group).active_alerts()
    assert alert.state == AlertState.FIRING
    assert dict(alert.annotations)["count"] == "2"


def test_keep_firing_for() -> None:
    rules = """
groups:
  - name: g
    rules:
      - alert: Flappy
        expr: metric > 5
        keep_firing_for: 2m
"""
    store = UnitTestStorage()
    load(store, [9, 1, 1, 1, 1])
    group, _ = make_group(rules, store)
    rule = rule_of(group)
    states = []
    for i in range(5):
        group.eval(i * M)
        states.append(str(rule.state()))
    # Firing at 0; the condition clears at 1m; it keeps firing for 2m (until 3m).
    assert states == ["firing", "firing", "firing", "inactive", "inactive"]
    assert rule.active[next(iter(rule.active))].keep_firing_since_ms == 1 * M


def test_pending_alert_that_clears_is_deleted() -> None:
    store = UnitTestStorage()
    load(store, [9, 1])
    group, _ = make_group(ALERT_RULES, store)
    group.eval(0)
    group.eval(M)
    assert rule_of(group).active == {}


def test_limit_exceeded_is_an_error() -> None:
    rules = """
groups:
  - name: g
    limit: 1
    rules:
      - alert: Many
        expr: metric
"""
    store = UnitTestStorage()
    load(store, [1], "a")
    load(store, [1], "b")
    group, _ = make_group(rules, store)
    group.eval(0)
    rule = rule_of(group)
    assert rule.health == "err"
    assert rule.last_error == "exceeded limit of 1 with 2 alerts"
    assert rule.active == {}


def test_recording_rules_write_in_order_and_mark_stale() -> None:
    rules = """
groups:
  - name: rec
    labels:
      team: core
    rules:
      - record: job:metric:sum
        expr: sum by (instance) (metric)
        labels:
          source: recorded
      - record: job:metric:double
        expr: job:metric:sum * 2
"""
    store = UnitTestStorage()
    load(store, [1, 2], "a")
    load(store, [5], "b")
    group, _ = make_group(rules, store)
    group.eval(0)
    group.eval(M)
    sums = series(store, "job:metric:sum")
    a = lbls(__name__="job:metric:sum", instance="a", source="recorded", team="core")
    b = lbls(__name__="job:metric:sum", instance="b", source="recorded", team="core")
    assert sums[a] == [(0, 1.0), (M, 2.0)]
    # b's input is still within the lookback window at 1m.
    assert sums[b] == [(0, 5.0), (M, 5.0)]
    doubles = series(store, "job:metric:double")
    # The second rule saw the first rule's output of the same evaluation.
    assert sorted(v[-1][1] for v in doubles.values()) == [4.0, 10.0]
    store.till = 10 * M
    group.eval(7 * M)  # both inputs are now older than the lookback window
    assert series(store, "job:metric:sum")[a][-1] == (7 * M, "stale")


def test_query_offset_shifts_query_and_sample_times() -> None:
    rules = """
groups:
  - name: rec
    query_offset: 1m
    rules:
      - record: copy
        expr: metric
"""
    store = UnitTestStorage()
    load(store, [1, 2, 3])
    group, _ = make_group(rules, store)
    group.eval(2 * M)
    (samples,) = series(store, "copy").values()
    assert samples == [(M, 2.0)]


def test_duplicate_labelset_after_rule_labels_is_an_error() -> None:
    rules = """
groups:
  - name: rec
    rules:
      - record: flat
        expr: metric
        labels:
          instance: same
"""
    store = UnitTestStorage()
    load(store, [1], "a")
    load(store, [1], "b")
    group, _ = make_group(rules, store)
    group.eval(0)
    assert group.rules[0].last_error == (
        "vector contains metrics with the same labelset after applying rule labels"
    )


def test_eval_timestamp_is_on_the_group_phase() -> None:
    group, _ = make_group(ALERT_RULES)
    t1 = group.eval_timestamp(1_000_000_000_000)
    t2 = group.eval_timestamp(1_000_000_000_000 + 59_999)
    assert t1 <= 1_000_000_000_000
    assert (t1 - group._hash()) % 60_000 == 0 or t1 % 60_000 == group._hash() % 60_000
    assert t2 in (t1, t1 + 60_000)
