"""The ``otlp:`` section of ``prometheus.yml``, with Prometheus's defaults.

Supported keys: ``promote_resource_attributes``, ``promote_all_resource_attributes``
with ``ignore_resource_attributes``, ``keep_identifying_resource_attributes``,
``promote_scope_metadata`` and ``translation_strategy`` (the two underscore-escaping
strategies; the UTF-8 ones are refused because tidewatch keeps legacy names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WITH_SUFFIXES = "UnderscoreEscapingWithSuffixes"
WITHOUT_SUFFIXES = "UnderscoreEscapingWithoutSuffixes"
STRATEGIES = (WITH_SUFFIXES, WITHOUT_SUFFIXES)
DEFAULT_LOOKBACK_MS = 300_000


class InvalidOTLPConfig(ValueError):
    pass


@dataclass(frozen=True)
class OTLPOptions:
    promote: frozenset[str] = frozenset()
    promote_all: bool = False
    ignore: frozenset[str] = frozenset()
    keep_identifying: bool = False
    promote_scope: bool = False
    add_suffixes: bool = True
    # target_info gets a sample every half lookback between a resource's first and last point.
    lookback_ms: int = DEFAULT_LOOKBACK_MS

    def promoted(self, key: str) -> bool:
        if self.promote_all:
            return key not in self.ignore
        return key in self.promote


def _strings(raw: dict[str, Any], key: str) -> frozenset[str]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidOTLPConfig(f"otlp.{key} must be a list of strings")
    names = [v.strip() for v in value]
    if any(not n for n in names):
        raise InvalidOTLPConfig(f"otlp.{key}: empty attribute name")
    if len(set(names)) != len(names):
        raise InvalidOTLPConfig(f"otlp.{key}: duplicated attribute name")
    return frozenset(names)


def _bool(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise InvalidOTLPConfig(f"otlp.{key} must be true or false")
    return value


def options_from_section(raw: Any, lookback_ms: int = DEFAULT_LOOKBACK_MS) -> OTLPOptions:
    """Options from the raw ``otlp:`` mapping (None or {} -> defaults)."""
    if not raw:
        return OTLPOptions(lookback_ms=lookback_ms)
    if not isinstance(raw, dict):
        raise InvalidOTLPConfig("otlp must be a mapping")
    promote = _strings(raw, "promote_resource_attributes")
    ignore = _strings(raw, "ignore_resource_attributes")
    promote_all = _bool(raw, "promote_all_resource_attributes")
    if promote_all and promote:
        raise InvalidOTLPConfig(
            "otlp: promote_all_resource_attributes and promote_resource_attributes "
            "are mutually exclusive"
        )
    if ignore and not promote_all:
        raise InvalidOTLPConfig(
            "otlp: ignore_resource_attributes needs promote_all_resource_attributes"
        )
    strategy = raw.get("translation_strategy", WITH_SUFFIXES)
    if strategy not in STRATEGIES:
        raise InvalidOTLPConfig(
            f"otlp.translation_strategy {strategy!r} is not supported; use one of "
            + ", ".join(STRATEGIES)
        )
    return OTLPOptions(
        promote=promote,
        promote_all=promote_all,
        ignore=ignore,
        keep_identifying=_bool(raw, "keep_identifying_resource_attributes"),
        promote_scope=_bool(raw, "promote_scope_metadata"),
        add_suffixes=strategy == WITH_SUFFIXES,
        lookback_ms=lookback_ms,
    )
