"""Loki's limits_config YAML mapped onto the store's options."""

from __future__ import annotations

import pytest
import yaml

from tidewatch.logs.store.limits_config import LimitsConfigError, options_from_limits

LOKI_YAML = """
ingestion_rate_mb: 16
ingestion_burst_size_mb: 32
max_line_size: 1MB
reject_old_samples_max_age: 168h
retention_period: 744h
retention_stream:
  - selector: '{namespace="dev"}'
    priority: 1
    period: 24h
unknown_key: ignored
"""


def test_loki_limits_section() -> None:
    o = options_from_limits(yaml.safe_load(LOKI_YAML))
    assert o.ingestion_rate_mb == 16 and o.ingestion_burst_size_mb == 32
    assert o.max_line_size == 1_000_000
    assert o.reject_old_samples_max_age_ns == 168 * 3600 * 10**9
    assert o.retention_ns == 744 * 3600 * 10**9
    (rule,) = o.retention_stream
    assert rule.priority == 1 and rule.period_ns == 24 * 3600 * 10**9
    assert str(rule.matchers[0]) == 'namespace="dev"'


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"max_line_size": "lots"}, "limits_config.max_line_size"),
        ({"retention_period": "soon"}, "limits_config.retention_period"),
        ({"reject_old_samples": "yes"}, "limits_config.reject_old_samples"),
        ({"retention_stream": [{"selector": "{a=", "period": "1h"}]}, "retention_stream[0]"),
    ],
)
def test_errors_name_the_key(doc: dict[str, object], fragment: str) -> None:
    with pytest.raises(LimitsConfigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        options_from_limits(doc)
