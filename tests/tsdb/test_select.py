"""Selecting series with matchers, across the head and blocks."""

from pathlib import Path

import pytest

from tests.tsdb.helpers import HOUR, T0, fill, lbl, open_db
from tidewatch.matcher import Matcher, MatchType
from tidewatch.tsdb.querier import EmptySelectorError

SERIES = [
    lbl("http_requests_total", job="api", code="200"),
    lbl("http_requests_total", job="api", code="500"),
    lbl("http_requests_total", job="web"),  # no "code" label
    lbl("up", job="api"),
]


def M(t: str, name: str, value: str) -> Matcher:
    return Matcher(MatchType(t), name, value)


@pytest.mark.parametrize("in_blocks", [False, True])
@pytest.mark.parametrize(
    ("matchers", "want"),
    [
        ([M("=", "__name__", "http_requests_total")], {0, 1, 2}),
        ([M("=", "job", "api"), M("!=", "code", "500")], {0, 3}),
        ([M("=~", "code", "2..|5.*")], {0, 1}),
        ([M("=", "__name__", "http_requests_total"), M("!~", "code", "5..")], {0, 2}),
        ([M("=", "__name__", "http_requests_total"), M("=", "code", "")], {2}),
        ([M("=", "__name__", "http_requests_total"), M("=~", "code", "|200")], {0, 2}),
        ([M("=~", "job", "a.*"), M("!=", "__name__", "up")], {0, 1}),
        ([M("=", "job", "nope")], set()),
        ([M("=~", "__name__", "h.+|up")], {0, 1, 2, 3}),
    ],
)
def test_matchers(tmp_path: Path, in_blocks: bool, matchers: list[Matcher], want: set[int]) -> None:
    db = open_db(tmp_path, block_duration_ms=HOUR)
    fill(db, SERIES, T0, 3)
    if in_blocks:
        fill(db, [lbl("filler")], T0 + 4 * HOUR, 1)
        db.maintain()
        assert db.blocks
    q = db.querier()
    got = q.select(matchers, 0, 2**62)
    assert [s.labels for s in got] == sorted(SERIES[i] for i in want)
    assert all(len(s.ts) == 3 for s in got)
    assert q.series_labels(matchers, 0, 2**62) == sorted(SERIES[i] for i in want)
    db.close()


def test_selector_needs_a_matcher(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    with pytest.raises(EmptySelectorError):
        db.querier().select([], 0, 10)
    db.close()


def test_time_range_and_label_apis(tmp_path: Path) -> None:
    db = open_db(tmp_path, block_duration_ms=HOUR)
    fill(db, SERIES, T0, 400)  # 100 minutes: part cut into a block
    db.maintain()
    assert db.blocks
    q = db.querier()
    s = q.select([M("=", "job", "web")], T0 + 15000, T0 + 45000 + 2)
    assert s[0].ts.tolist() == [T0 + 15000 + 2, T0 + 30000 + 2, T0 + 45000 + 2]
    everything = q.select([M("=", "job", "web")], 0, 2**62)[0]
    assert len(everything.ts) == 400 and (everything.ts[1:] > everything.ts[:-1]).all()
    assert q.label_names([], 0, 2**62) == ["__name__", "code", "job"]
    assert q.label_names([M("=", "job", "web")], 0, 2**62) == ["__name__", "job"]
    assert q.label_values("code", [], 0, 2**62) == ["200", "500"]
    assert q.label_values("job", [M("=", "__name__", "up")], 0, 2**62) == ["api"]
    db.close()
