"""Grouping keys from push URLs: ``/metrics/job/<job>{/<label>/<value>}``.

As the Pushgateway: a name suffixed ``@base64`` carries a URL-safe base64 value
(padding optional), which is how a value with ``/`` or an empty value is pushed.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from tidewatch.ingest.exposition import is_valid_label_name

BASE64_SUFFIX = "@base64"

GroupingKey = tuple[tuple[str, str], ...]  # sorted by name; includes ``job``


class BadGroupingKey(ValueError):
    pass


def _decode_base64(value: str) -> str:
    text = value.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadGroupingKey(f"invalid base64 encoding in label value {value!r}: {exc}") from None


def _pair(name: str, value: str) -> tuple[str, str]:
    if name.endswith(BASE64_SUFFIX):
        name = name[: -len(BASE64_SUFFIX)]
        value = _decode_base64(value)
    if not is_valid_label_name(name) or name.startswith("__"):
        raise BadGroupingKey(f'improper label name "{name}"')
    return name, value


def parse_grouping_key(raw_path: str) -> GroupingKey:
    """The grouping key of a raw (still percent-encoded) path after ``/metrics/``."""
    parts = [unquote(p) for p in raw_path.strip("/").split("/")] if raw_path.strip("/") else []
    if len(parts) < 2 or parts[0] not in ("job", "job" + BASE64_SUFFIX):
        raise BadGroupingKey("the path must start with /metrics/job/<job name>")
    if len(parts) % 2:
        raise BadGroupingKey(f"odd number of components in label string {'/'.join(parts[2:])!r}")
    key: dict[str, str] = {}
    for i in range(0, len(parts), 2):
        name, value = _pair(parts[i], parts[i + 1])
        if name in key:
            raise BadGroupingKey(f"duplicate label name {name!r}")
        key[name] = value
    if not key["job"]:
        raise BadGroupingKey("job name is required")
    return tuple(sorted(key.items()))
