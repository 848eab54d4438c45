"""Routing decisions and group keys, on Alertmanager's documented example and on
``continue`` edge cases."""

from __future__ import annotations

import pytest

from tests.alertmanager.examples import SIMPLE_YML
from tidewatch.alertmanager.config import load_config
from tidewatch.alertmanager.route import build_route_tree, format_labelset, receivers_for
from tidewatch.labels import from_dict


@pytest.fixture(scope="module")
def simple_tree():  # type: ignore[no-untyped-def]
    return build_route_tree(load_config(SIMPLE_YML).route)


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"service": "foo1", "severity": "critical"}, ["team-X-pager"]),
        ({"service": "foo2"}, ["team-X-mails"]),
        ({"service": "baz", "severity": "warning"}, ["team-X-mails"]),
        ({"service": "files", "severity": "critical"}, ["team-Y-pager"]),
        ({"service": "files"}, ["team-Y-mails"]),
        ({"service": "database"}, ["team-DB-pager"]),
        ({"service": "database", "owner": "team-X"}, ["team-X-pager"]),
        ({"service": "database", "owner": "team-Y"}, ["team-Y-pager"]),
        ({"service": "other"}, ["team-X-mails"]),
        ({"alertname": "x"}, ["team-X-mails"]),
        ({"service": "foo10"}, ["team-X-mails"]),  # anchored regex
    ],
)
def test_docs_example_routing(simple_tree, labels: dict[str, str], receivers: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert receivers_for(simple_tree, from_dict(labels)) == receivers


CONTINUE_YML = """
route:
  receiver: a
  routes:
  - matchers: [x="1"]
    receiver: b
    continue: true
  - matchers: [x=~"1|2"]
    receiver: b
    continue: true
  - matchers: [y="1"]
    receiver: c
    routes:
    - matchers: [z="1"]
      receiver: d
      continue: true
    - matchers: [z=~".+"]
      receiver: e
  - receiver: f
receivers: [{name: a}, {name: b}, {name: c}, {name: d}, {name: e}, {name: f}]
"""


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"x": "1", "y": "1"}, ["b", "b", "c"]),
        ({"x": "2"}, ["b", "f"]),
        ({"y": "1", "z": "1"}, ["d", "e"]),
        ({"y": "1", "z": "2"}, ["e"]),
        ({"q": "1"}, ["f"]),
    ],
)
def test_continue_and_catch_all(labels: dict[str, str], receivers: list[str]) -> None:
    tree = build_route_tree(load_config(CONTINUE_YML).route)
    assert receivers_for(tree, from_dict(labels)) == receivers


def test_group_keys_and_labels(simple_tree) -> None:  # type: ignore[no-untyped-def]
    alert = from_dict(
        {"alertname": "Disk", "service": "files", "severity": "critical", "instance": "h1"}
    )
    (route,) = simple_tree.match_labels(alert)
    assert route.key() == '{}/{service="files"}/{severity="critical"}'
    assert route.id() == '{}/{service="files"}/1/{severity="critical"}/0'
    group = route.group_labels(alert)
    assert group == from_dict({"alertname": "Disk", "service": "files"})
    assert (
        route.group_key(group)
        == '{}/{service="files"}/{severity="critical"}:{alertname="Disk", service="files"}'
    )


def test_group_by_all_uses_every_label() -> None:
    tree = build_route_tree(
        load_config("route: {receiver: a, group_by: ['...']}\nreceivers: [{name: a}]").route
    )
    lbls = from_dict({"a": "1", "b": "2"})
    assert tree.group_labels(lbls) == lbls


def test_route_indices_are_unique_post_order(simple_tree) -> None:  # type: ignore[no-untyped-def]
    idx = [r.idx for r in simple_tree.walk()]
    assert sorted(idx) == list(range(len(idx)))
    assert simple_tree.idx == len(idx) - 1


def test_labelset_format_quotes_like_go() -> None:
    assert format_labelset(from_dict({"b": 'say "hi"\n', "a": "é"})) == (
        '{a="é", b="say \\"hi\\"\\n"}'
    )
