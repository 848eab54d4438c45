from __future__ import annotations

import pytest

from tidewatch.config import SizeError, format_size, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("1B", 1),
        ("100KiB", 100 * 1024),
        ("512MB", 512 << 20),
        ("1GB", 1 << 30),
        ("1.5GB", 3 << 29),
        ("50GB", 50 << 30),
        ("1GB512MB", (1 << 30) + (512 << 20)),
        ("2TB", 2 << 40),
        ("1EB", 1 << 60),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "512", "1kb", "10XB", "GB", "1 GB", "-1GB", "1.GB.5"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(SizeError):
        parse_size(text)


@pytest.mark.parametrize("size", [1, 1023, 1024, 32 << 20, (1 << 30) + 5, 50 << 30])
def test_format_round_trips(size: int) -> None:
    assert parse_size(format_size(size)) == size
