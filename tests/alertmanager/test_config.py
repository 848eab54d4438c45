"""alertmanager.yml: what real configs contain loads; what Alertmanager rejects is
rejected with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.alertmanager.examples import SIMPLE_YML
from tidewatch.alertmanager.config import (
    default_config,
    load_config,
    load_config_file,
)
from tidewatch.alertmanager.route import build_route_tree
from tidewatch.config.errors import ConfigError
from tidewatch.matcher import MatchType


def test_docs_example_loads_with_global_defaults_applied() -> None:
    cfg = load_config(SIMPLE_YML)
    assert cfg.global_.resolve_timeout_ms == 300_000
    assert cfg.global_.smtp_require_tls is True
    assert [r.name for r in cfg.receivers] == [
        "team-X-mails",
        "team-X-pager",
        "team-Y-mails",
        "team-Y-pager",
        "team-DB-pager",
    ]
    mail = cfg.receivers[0].email_configs[0]
    assert mail.smarthost == "localhost:25"
    assert mail.from_ == "alertmanager@example.org"
    assert mail.auth_password is not None and mail.auth_password.value == "password"
    assert mail.require_tls is True
    assert mail.send_resolved is False
    pd = cfg.receivers[1].pagerduty_configs[0]
    assert pd.url == "https://events.pagerduty.com/v2/enqueue"
    assert pd.send_resolved is True
    assert cfg.inhibit_rules[0].equal == ["alertname", "cluster", "service"]
    assert cfg.templates == ["/etc/alertmanager/template/*.tmpl"]


def test_secrets_never_print() -> None:
    cfg = load_config(SIMPLE_YML)
    text = repr(cfg) + str(cfg)
    assert "password" not in text.replace("auth_password", "").replace("password_file", "")
    assert "<team-X-key>" not in text
    assert "<secret>" in text


def test_route_defaults_and_inheritance() -> None:
    cfg = load_config(
        """
route:
  receiver: a
  group_by: [alertname]
  routes:
    - matchers: [x="1"]
      group_wait: 1s
      routes:
        - matchers: [y="1"]
          receiver: b
          group_by: ['...']
    - match: {x: "2"}
      match_re: {y: "a|b"}
      group_by: []
      repeat_interval: 1h
receivers: [{name: a}, {name: b}]
"""
    )
    root = build_route_tree(cfg.route)
    assert (root.opts.group_wait_ms, root.opts.group_interval_ms, root.opts.repeat_interval_ms) == (
        30_000,
        300_000,
        4 * 3600_000,
    )
    first, second = root.routes
    assert first.opts.group_wait_ms == 1000 and first.opts.receiver == "a"
    assert first.opts.group_by == frozenset({"alertname"})
    grandchild = first.routes[0]
    assert grandchild.opts.group_wait_ms == 1000  # inherited from its parent
    assert grandchild.opts.group_by_all and grandchild.opts.receiver == "b"
    assert second.opts.group_by == frozenset() and not second.opts.group_by_all
    assert second.opts.repeat_interval_ms == 3600_000
    assert sorted((m.name, m.type) for m in second.matchers) == [
        ("x", MatchType.EQUAL),
        ("y", MatchType.REGEX),
    ]


def test_default_config_has_one_receiver_without_integrations() -> None:
    cfg = default_config()
    assert cfg.route.receiver == "default"
    assert [r.name for r in cfg.receivers] == ["default"]
    assert cfg.receivers[0].integrations() == []


def test_integrations_are_typed() -> None:
    cfg = load_config(
        """
global:
  slack_api_url: https://hooks.slack.com/services/T/B/secret
  opsgenie_api_key: og-key
route: {receiver: all}
receivers:
  - name: all
    webhook_configs:
      - url: http://127.0.0.1:5001/hook
        max_alerts: 10
        http_config: {bearer_token: tok}
    slack_configs:
      - channel: '#alerts'
        send_resolved: true
    msteams_configs: [{webhook_url: https://teams.example/x}]
    telegram_configs: [{bot_token: bt, chat_id: -1001}]
    discord_configs: [{webhook_url: https://discord.example/x}]
    opsgenie_configs: [{responders: [{name: ops, type: team}]}]
    pushover_configs: [{user_key: uk, token: tk}]
"""
    )
    rcv = cfg.receivers[0]
    wh = rcv.webhook_configs[0]
    assert wh.url is not None and wh.url.value == "http://127.0.0.1:5001/hook"
    assert wh.max_alerts == 10 and wh.send_resolved
    assert wh.http_config is not None and wh.http_config.authorization is not None
    sl = rcv.slack_configs[0]
    assert sl.api_url is not None and sl.api_url.value.endswith("/secret")  # from global
    assert sl.send_resolved and sl.title.startswith("{{ template")
    assert rcv.telegram_configs[0].chat_id == -1001
    assert rcv.telegram_configs[0].api_url == "https://api.telegram.org"
    og = rcv.opsgenie_configs[0]
    assert og.api_key is not None and og.api_key.value == "og-key"
    assert og.api_url == "https://api.opsgenie.com/"
    assert "tk" not in repr(rcv.other_configs)
    assert [k for k, _, _ in rcv.integrations()] == [
        "webhook",
        "slack",
        "opsgenie",
        "msteams",
        "telegram",
        "discord",
    ]


def test_time_intervals_parse() -> None:
    cfg = load_config(
        """
route:
  receiver: a
  routes:
    - matchers: [x=y]
      mute_time_intervals: [offhours]
      active_time_intervals: [old]
receivers: [{name: a}]
time_intervals:
  - name: offhours
    time_intervals:
      - times: [{start_time: "00:00", end_time: "09:00"}]
        weekdays: ['monday:friday']
        days_of_month: ['1:5', '-3:-1']
        months: ['january:march', '12']
        years: ['2020:2030']
        location: Europe/Berlin
mute_time_intervals:
  - name: old
    time_intervals: [{weekdays: [saturday, sunday]}]
"""
    )
    ti = cfg.time_intervals["offhours"].time_intervals[0]
    assert ti.times is not None and (ti.times[0].start_minute, ti.times[0].end_minute) == (0, 540)
    assert ti.weekdays is not None and (ti.weekdays[0].begin, ti.weekdays[0].end) == (1, 5)
    assert ti.days_of_month is not None and ti.days_of_month[1].begin == -3
    assert ti.months is not None and [(r.begin, r.end) for r in ti.months] == [(1, 3), (12, 12)]
    assert ti.location == "Europe/Berlin"
    assert set(cfg.time_intervals) == {"offhours", "old"}


def _err(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(text, "am.yml")
    return info.value


BASE = "receivers: [{name: a}]\n"


ERROR_CASES: list[tuple[str, int, str, str]] = [
    (
        "route: {receiver: a}\nreceivers:\n- name: a\n  victorops_configs: [{routing_key: x}]\n",
        3,
        "receivers[0].victorops_configs[0]",
        "no global VictorOps API Key set",
    ),
    (
        "global: {victorops_api_key: k, victorops_api_key_file: f}\nroute: {receiver: a}\n" + BASE,
        1,
        "global.victorops_api_key_file",
        "at most one of victorops_api_key & victorops_api_key_file",
    ),
    (
        "route: {receiver: a}\nreceivers:\n- name: a\n  webhook_configs: [{url: foo}]\n",
        4,
        "receivers[0].webhook_configs[0].url",
        "unsupported scheme ''",
    ),
    (
        "global: {slack_api_url: 'http://'}\nroute: {receiver: a}\n" + BASE,
        1,
        "global.slack_api_url",
        "missing host for URL",
    ),
    ("route: {receiver: a, grop_by: [x]}\n" + BASE, 1, "route.grop_by", "unknown field"),
    ("route: {receiver: nope}\n" + BASE, 1, "route.receiver", "undefined receiver 'nope'"),
    ("route: {}\n" + BASE, 1, "route", "root route must specify a default receiver"),
    (BASE, 1, "", "no routes provided"),
    (
        "route: {receiver: a, matchers: ['x=1']}\n" + BASE,
        1,
        "route",
        "root route must not have any matchers",
    ),
    (
        "route:\n  receiver: a\n  routes:\n  - matchers: ['x=~\"(\"']\n" + BASE,
        4,
        "route.routes[0].matchers[0]",
        "error parsing regexp",
    ),
    (
        "route:\n  receiver: a\n  routes:\n  - matchers: ['!x=1']\n" + BASE,
        4,
        "route.routes[0].matchers[0]",
        "bad matcher format",
    ),
    (
        "route:\n  receiver: a\n  group_by: [a, a]\n" + BASE,
        3,
        "route.group_by",
        "duplicated label 'a'",
    ),
    (
        "route:\n  receiver: a\n  group_by: ['...', a]\n" + BASE,
        3,
        "route.group_by",
        "wildcard group_by",
    ),
    (
        "route:\n  receiver: a\n  group_interval: 0s\n" + BASE,
        3,
        "route.group_interval",
        "cannot be zero",
    ),
    (
        "route:\n  receiver: a\n  group_wait: 5x\n" + BASE,
        3,
        "route.group_wait",
        "not a valid duration",
    ),
    (
        "route:\n  receiver: a\n  routes:\n  - mute_time_intervals: [zz]\n" + BASE,
        4,
        "route.routes[0]",
        "undefined time interval 'zz'",
    ),
    (
        "route: {receiver: a}\nreceivers: [{name: a}, {name: a}]\n",
        2,
        "receivers[1].name",
        "is not unique",
    ),
    (
        "route: {receiver: a}\nreceivers:\n- name: a\n  email_configs: [{to: x@y}]\n",
        3,
        "receivers[0].email_configs[0]",
        "no global SMTP smarthost set",
    ),
    (
        "route: {receiver: a}\nreceivers:\n- name: a\n  slack_configs: [{channel: x}]\n",
        3,
        "receivers[0].slack_configs[0]",
        "no Slack API URL",
    ),
    (
        "route: {receiver: a}\nreceivers:\n- name: a\n  webhook_configs: [{ur: x}]\n",
        4,
        "receivers[0].webhook_configs[0].ur",
        'unknown field "ur"',
    ),
    (
        "route: {receiver: a}\nreceivers:\n- name: a\n  pagerduty_configs: [{}]\n",
        4,
        "receivers[0].pagerduty_configs[0]",
        "missing service or routing key",
    ),
    (
        "route: {receiver: a}\n" + BASE + "inhibit_rules:\n- source_match: {'1x': y}\n",
        4,
        "inhibit_rules[0].source_match.1x",
        "invalid label name",
    ),
    (
        "route: {receiver: a}\n"
        + BASE
        + "time_intervals:\n- name: t\n  time_intervals:\n  - weekdays: [funday]\n",
        6,
        "time_intervals[0].time_intervals[0].weekdays[0]",
        "funday is not a valid weekday",
    ),
    (
        "route: {receiver: a}\n"
        + BASE
        + "time_intervals:\n- name: t\n  time_intervals:\n"
        + "  - times: [{start_time: '10:00', end_time: '09:00'}]\n",
        6,
        "time_intervals[0].time_intervals[0].times[0]",
        "start time cannot be equal or greater",
    ),
    (
        "route: {receiver: a}\n"
        + BASE
        + "time_intervals:\n- name: t\n  time_intervals:\n  - location: Mars/Base\n",
        6,
        "time_intervals[0].time_intervals[0].location",
        "unknown time zone",
    ),
    (
        "global: {resolve_timeout: 1h, smtp_smarthost: nohost}\nroute: {receiver: a}\n" + BASE,
        1,
        "global.smtp_smarthost",
        "missing port",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "message"), ERROR_CASES)
def test_errors_name_file_line_field(text: str, line: int, field: str, message: str) -> None:
    err = _err(text)
    assert err.file == "am.yml"
    assert (err.line, err.field) == (line, field), str(err)
    assert message in err.message, str(err)


def test_load_file_resolves_templates_and_reports_missing(tmp_path: Path) -> None:
    p = tmp_path / "alertmanager.yml"
    p.write_text("templates: ['t/*.tmpl']\nroute: {receiver: a}\n" + BASE)
    cfg = load_config_file(p)
    assert cfg.templates == [str(tmp_path / "t" / "*.tmpl")]
    assert cfg.source_path == str(p)
    with pytest.raises(ConfigError) as info:
        load_config_file(tmp_path / "missing.yml")
    assert "missing.yml" in str(info.value)


def test_untyped_integrations_keep_secrets_hidden_at_any_depth() -> None:
    cfg = load_config(
        """
route: {receiver: a}
receivers:
  - name: a
    sns_configs:
      - topic_arn: arn:aws:sns:us-east-2:123:topic
        sigv4: {region: us-east-2, access_key: AK, secret_key: hunter2}
    victorops_configs: [{routing_key: x, api_key: hunter3}]
"""
    )
    assert cfg.receivers[0].other_configs["sns_configs"][0]["topic_arn"].startswith("arn:")
    text = repr(cfg)
    assert "hunter2" not in text and "hunter3" not in text
