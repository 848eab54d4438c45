"""Routing decisions compared with the real Alertmanager's ``amtool config routes
test`` (Debian package prometheus-alertmanager). Without amtool the test skips,
except in CI, where a missing amtool is a failure."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.alertmanager.examples import SIMPLE_YML
from tests.alertmanager.test_config import ERROR_CASES
from tests.alertmanager.test_route import CONTINUE_YML
from tests.peers import require_binary
from tidewatch.alertmanager.config import load_config
from tidewatch.alertmanager.route import build_route_tree, receivers_for
from tidewatch.config.errors import ConfigError
from tidewatch.labels import from_dict

REGEX_YML = """
route:
  receiver: root
  group_by: [alertname]
  routes:
  - match_re: {env: "prod|staging"}
    receiver: envs
    routes:
    - matchers: ['team!~"db.*"', 'sev!=info']
      receiver: not-db
    - match: {team: db}
      receiver: db
      continue: true
    - matchers: ['{sev=~"crit.*", team=~".+"}']
      receiver: crit
  - matchers: ['env=""', 'job=~"node|blackbox"']
    receiver: noenv
receivers:
- {name: root}
- {name: envs}
- {name: not-db}
- {name: db}
- {name: crit}
- {name: noenv}
"""

CASES: list[tuple[str, list[dict[str, str]]]] = [
    (
        SIMPLE_YML,
        [
            {"service": "foo1", "severity": "critical"},
            {"service": "baz"},
            {"service": "files", "severity": "critical"},
            {"service": "database", "owner": "team-X"},
            {"service": "database", "owner": "team-Y", "severity": "critical"},
            {"service": "foo10"},
            {"alertname": "x"},
        ],
    ),
    (
        CONTINUE_YML,
        [
            {"x": "1", "y": "1"},
            {"x": "2"},
            {"y": "1", "z": "1"},
            {"y": "1", "z": "2"},
            {"q": "1"},
        ],
    ),
    (
        REGEX_YML,
        [
            {"env": "prod", "team": "web", "sev": "warn"},
            {"env": "prod", "team": "web", "sev": "info"},
            {"env": "staging", "team": "db", "sev": "critical"},
            {"env": "staging", "team": "dba", "sev": "warn"},
            {"env": "prodx"},
            {"job": "node"},
            {"job": "node", "env": "dev"},
        ],
    ),
]


def _amtool() -> str:
    return require_binary("amtool")


@pytest.mark.parametrize(("config", "label_sets"), CASES, ids=["docs", "continue", "regex"])
def test_routing_agrees_with_amtool(
    tmp_path: Path, config: str, label_sets: list[dict[str, str]]
) -> None:
    amtool = _amtool()
    cfg_file = tmp_path / "alertmanager.yml"
    cfg_file.write_text(config)
    tree = build_route_tree(load_config(config).route)
    for labels in label_sets:
        args = [f"{k}={v}" for k, v in labels.items()]
        out = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={cfg_file}", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        theirs = out.stdout.strip().split(",")
        ours = receivers_for(tree, from_dict(labels))
        assert ours == theirs, labels


# Matcher strings whose acceptance must agree with `amtool check-config`. Quoted
# UTF-8 label names are left out on purpose: Alertmanager 0.25 rejects them, newer
# releases (and tidewatch) accept them.
MATCHER_STRINGS = [
    'foo="bar"',
    "foo=bar",
    "{foo=bar,baz=qux,}",
    'foo="a,b"',
    "foo=bar baz",
    "job:rate=1",
    "",
    "{}",
    "{foo=bar",
    "foo=bar}",
    "x==1",
    'foo="\\d+"',
    "foo=",
    "foo",
    "=bar",
    'foo=="bar"',
    '1foo="bar"',
    'foo="bar',
    'foo=bar"',
    'foo="a"b"',
    'foo=~"("',
    "a=b,,c=d",
    'foo~="bar"',
    "!x=1",
]


def test_matcher_acceptance_agrees_with_amtool(tmp_path: Path) -> None:
    amtool = _amtool()
    cfg_file = tmp_path / "alertmanager.yml"
    disagreements = []
    for text in MATCHER_STRINGS:
        quoted = "'" + text.replace("'", "''") + "'"
        config = (
            f"route:\n  receiver: a\n  routes:\n  - matchers: [{quoted}]\n"
            "receivers: [{name: a}]\n"
        )
        cfg_file.write_text(config)
        out = subprocess.run(
            [amtool, "check-config", str(cfg_file)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        try:
            load_config(config)
            ours = True
        except ConfigError:
            ours = False
        if ours != (out.returncode == 0):
            disagreements.append(text)
    assert disagreements == []


def test_configs_we_reject_amtool_rejects(tmp_path: Path) -> None:
    amtool = _amtool()
    cfg_file = tmp_path / "alertmanager.yml"
    accepted_by_amtool = []
    for text, *_ in ERROR_CASES:
        cfg_file.write_text(text)
        out = subprocess.run(
            [amtool, "check-config", str(cfg_file)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if out.returncode == 0:
            accepted_by_amtool.append(text)
    assert accepted_by_amtool == []
