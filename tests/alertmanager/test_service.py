"""The assembled Alertmanager: state under the data directory, the default
configuration, and the masked configuration the status API shows."""

from __future__ import annotations

from pathlib import Path

from tests.alertmanager.examples import SIMPLE_YML
from tidewatch.alertmanager.alert import Alert
from tidewatch.alertmanager.config import load_config
from tidewatch.alertmanager.matchers import parse_matchers
from tidewatch.alertmanager.render import masked_yaml
from tidewatch.alertmanager.service import Alertmanager
from tidewatch.labels import Labels


class NullNotifier:
    async def notify(
        self, receiver: str, group_key: str, alerts: list[Alert], group_labels: Labels
    ) -> None:
        return None


async def test_state_lives_under_data_dir(tmp_path: Path) -> None:
    am = Alertmanager(NullNotifier(), data_dir=tmp_path)
    assert am.config.route.receiver == "default"
    await am.start()
    sid = am.silences.create(parse_matchers("a=b"), 0, 2**62)
    await am.stop()
    assert (tmp_path / "alertmanager" / "alertmanager.db").exists()
    am2 = Alertmanager(NullNotifier(), data_dir=tmp_path)
    assert am2.silences.get(sid) is not None
    await am2.stop()


def test_masked_yaml_hides_every_secret() -> None:
    text = (
        SIMPLE_YML
        + """
  - name: hooks
    webhook_configs:
      - url: http://user:hunter2@example/hook
        http_config:
          basic_auth: {username: u, password: hunter3}
    slack_configs:
      - api_url: https://hooks.slack.com/services/hunter4
    telegram_configs:
      - {bot_token: hunter5, chat_id: 1, api_url: https://api.telegram.org}
"""
    )
    out = masked_yaml(load_config(text))
    for secret in ("hunter2", "hunter3", "hunter4", "hunter5", "<team-X-key>", "password'"):
        assert secret not in out
    assert "smtp_auth_password: <secret>" in out
    assert "api_url: https://api.telegram.org" in out  # not a secret field there
    assert "receiver: team-X-mails" in out
