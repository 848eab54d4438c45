"""Decoding ``remote_write`` entries: defaults and errors that name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tidewatch.remote.send import RemoteWriteConfigError, decode_configs


def one(entry: dict[str, Any]) -> Any:
    return decode_configs([entry])[0]


def test_defaults_follow_prometheus() -> None:
    c = one({"url": "http://r:9090/api/v1/write"})
    assert c.remote_timeout_ms == 30_000
    assert c.queue.max_samples_per_send == 2000
    assert c.queue.batch_send_deadline_ms == 5000
    assert (c.queue.min_backoff_ms, c.queue.max_backoff_ms) == (30, 5000)
    assert (c.queue.min_shards, c.queue.max_shards) == (1, 50)
    assert len(c.remote_name) == 6 and c.hash.startswith(c.remote_name)


def test_fields_are_decoded(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    c = one(
        {
            "url": "https://r/api/v1/write",
            "name": "main",
            "remote_timeout": "10s",
            "headers": {"X-Scope-OrgID": "t1"},
            "authorization": {"credentials_file": str(secret)},
            "queue_config": {"max_shards": 3, "batch_send_deadline": "1s", "min_backoff": "1s"},
            "write_relabel_configs": [{"source_labels": ["a"], "regex": "x", "action": "drop"}],
        }
    )
    assert c.remote_name == "main"
    assert c.remote_timeout_ms == 10_000
    assert c.authorization == ("Bearer", "s3cret")
    assert c.queue.max_shards == 3 and c.queue.batch_send_deadline_ms == 1000
    assert len(c.relabel) == 1 and c.relabel[0].action == "drop"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, "remote_write[0].url: url for remote_write is empty"),
        ({"url": "ftp://x"}, "remote_write[0].url: unsupported scheme"),
        ({"url": "http://x", "bogus": 1}, "remote_write[0]: field bogus not found"),
        ({"url": "http://x", "queue_config": {"max_shards": "many"}}, "queue_config.max_shards"),
        ({"url": "http://x", "queue_config": {"min_backoff": "soon"}}, "queue_config.min_backoff"),
        (
            {"url": "http://x", "queue_config": {"min_shards": 5, "max_shards": 2}},
            "min_shards (5) exceeds max_shards (2)",
        ),
        ({"url": "http://x", "headers": {"Content-Type": "x"}}, "reserved header"),
        (
            {"url": "http://x", "write_relabel_configs": [{"action": "hashmod"}]},
            "write_relabel_configs",
        ),
        (
            {"url": "http://x", "write_relabel_configs": [{"regex": "(", "action": "drop"}]},
            "write_relabel_configs",
        ),
        (
            {"url": "http://x", "basic_auth": {"username": "u"}, "bearer_token": "t"},
            "at most one",
        ),
        ({"url": "http://x", "sigv4": {"region": "eu"}}, "sigv4: not supported"),
    ],
)
def test_errors_name_the_field(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(RemoteWriteConfigError, match=None) as exc:
        decode_configs([entry])
    assert message in str(exc.value)


def test_duplicates_are_refused() -> None:
    with pytest.raises(RemoteWriteConfigError, match="duplicate"):
        decode_configs([{"url": "http://x"}, {"url": "http://x"}])
    assert len(decode_configs([{"url": "http://x"}, {"url": "http://x", "name": "b"}])) == 2
