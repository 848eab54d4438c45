"""Fingerprints must equal prometheus/common's (values from its own tests)."""

import pytest

from tidewatch.alertmanager.fingerprint import fingerprint, fingerprint_hex
from tidewatch.labels import from_dict


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({}, 14695981039346656037),
        ({"name": "garland, briggs", "fear": "love is not enough"}, 5799056148416392346),
        ({"first-label": "first-label-value"}, 5146282821936882169),
        (
            {"first-label": "first-label-value", "second-label": "second-label-value"},
            3195800080984914717,
        ),
        (
            {
                "first-label": "first-label-value",
                "second-label": "second-label-value",
                "third-label": "third-label-value",
            },
            13843036195897128121,
        ),
    ],
)
def test_fingerprint_matches_go(labels: dict[str, str], expected: int) -> None:
    assert fingerprint(from_dict(labels)) == expected


def test_fingerprint_hex_is_16_digits() -> None:
    assert fingerprint_hex(()) == "cbf29ce484222325"
