"""Rule groups, alert state, ``ALERTS`` / ``ALERTS_FOR_STATE``, sending to Alertmanagers,
and promtool's ``check rules`` / ``test rules``."""

from tidewatch.rules.manager import RuleManager
from tidewatch.rules.notifier import NotifyAlert
from tidewatch.rules.rulefile import RuleFileError, parse_rule_file

__all__ = ["NotifyAlert", "RuleFileError", "RuleManager", "parse_rule_file"]
