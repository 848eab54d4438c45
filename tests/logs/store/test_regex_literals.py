"""A regex reduced to literals finds exactly the lines RE2 finds."""

from __future__ import annotations

import random

import pytest
import re2

from tidewatch.logs.store.regex_literals import literal_alternatives

CASES = [
    ("err(or)?", ["err"]),
    ("erro?", ["err"]),
    ("foo|bar", ["foo", "bar"]),
    ("err(or)?|fail(ed|ure)?", ["err", "fail"]),
    ("a\\.b?", ["a."]),
    ("é(x)?", ["é"]),
    ("err(o|r)*", ["err"]),
    ("needle", ["needle"]),
    ("err+", None),  # the suffix "r+" needs a character
    ("err$", None),  # an anchor depends on where the match is
    ("err\\b", None),
    ("(?i)err", None),
    ("x(?i)|err", None),  # the flag reaches the second alternative
    ("x(?i:y)?|err", ["x", "err"]),
    ("err|x*", None),  # an alternative that matches empty
    ("a|", None),
    ("[a]b", None),
    ("a(b", None),
    ("x[^a]?", None),
    ("\\d+", None),
]


@pytest.mark.parametrize(("pattern", "want"), CASES)
def test_known_patterns(pattern: str, want: list[str] | None) -> None:
    assert literal_alternatives(pattern) == want


ATOMS = [
    "e",
    "r",
    "o",
    "x",
    "é",
    ".",
    "\\.",
    "|",
    "(",
    ")",
    "?",
    "*",
    "+",
    "[ab]",
    "[^a]",
    "$",
    "^",
    "\\b",
    "(?i)",
    "{0,2}",
    "{2}",
    "\\d",
    "ab",
    "(or)",
    "(o|x)",
]
TEXT = ["e", "r", "o", "x", "é", ".", "a", "b", "1", " ", "E", "R", "err", "or", "ERR", "X"]


def test_random_patterns_agree_with_re2() -> None:
    quiet = re2.Options()
    quiet.log_errors = False
    rng = random.Random(5)
    reduced = 0
    for _ in range(8000):
        pattern = "|".join(
            "".join(rng.choices(ATOMS, k=rng.randrange(1, 4))) for _ in range(rng.randrange(1, 4))
        )
        try:
            rx = re2.compile(pattern, quiet)
        except re2.error:
            continue
        lits = literal_alternatives(pattern)
        if lits is None:
            continue
        reduced += 1
        assert lits and all(lits), pattern
        for _ in range(30):
            line = "".join(rng.choices(TEXT, k=rng.randrange(0, 10)))
            want = rx.search(line) is not None
            got = any(x in line for x in lits)
            assert got == want, (pattern, lits, line)
    assert reduced > 300  # the generator does produce reducible patterns
