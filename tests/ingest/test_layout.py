"""The same-layout fast path stores exactly what the full parser would."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tidewatch.config.model import RelabelConfig, ScrapeConfig
from tidewatch.ingest.layout import Layout
from tidewatch.ingest.scrape_loop import LoopStats, ScrapeLoop, ScrapeSettings
from tidewatch.ingest.target import Target
from tidewatch.labels import from_dict
from tidewatch.matcher import Matcher, MatchType
from tidewatch.tsdb import TSDB

T0 = 1_700_000_000_000


def _body(step: int, extra: bytes = b"") -> bytes:
    return (
        b"# HELP reqs Requests.\n# TYPE reqs counter\n"
        + b"".join(b'reqs{path="/p%d"} %d\n' % (i, i * step) for i in range(50))
        + b'temp{room="a b"} %.3f\n' % (step / 7)
        + b"drop_me 1\n"
        + extra
    )


def _loop(db: TSDB, **cfg: object) -> ScrapeLoop:
    target = Target(
        from_dict({"job": "j", "instance": "x"}), {}, {}, "http://x/metrics", 1000, 1000
    )
    settings = ScrapeSettings.from_config(ScrapeConfig(job_name="j", **cfg))  # type: ignore[arg-type]
    return ScrapeLoop(target, settings, db, None, LoopStats())  # type: ignore[arg-type]


def _dump(db: TSDB) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    q = db.querier()
    try:
        got = q.select([Matcher(MatchType.REGEX, "__name__", ".+")], 0, 1 << 62)
    finally:
        q.close()
    out = {}
    for s in got:
        vals = np.where(np.isnan(s.values), -1.0, s.values)  # staleness markers compare equal
        out[s.labels] = list(zip(s.ts.tolist(), vals.tolist(), strict=True))
    return out


def test_fast_path_matches_full_parse(tmp_path: Path) -> None:
    drop = RelabelConfig(source_labels=["__name__"], regex="drop_me", action="drop")
    bodies = [_body(s) for s in range(6)]
    bodies[3] = _body(3, b"new_one 4\n")  # layout changes: full path, then a new layout
    bodies[4] = bodies[4].replace(b'reqs{path="/p1"} 4', b'reqs{path="/p1"} 4 123')
    bodies[5] = bodies[5].replace(b"} 5\n", b"} 1_0\n", 1)  # left to the full parser
    results = {}
    for fast in (True, False):
        db = TSDB.open(str(tmp_path / str(fast)))
        loop = _loop(db, metric_relabel_configs=[drop])
        errors = []
        for step, body in enumerate(bodies):
            if not fast:
                loop._layout = None
            try:
                loop.ingest(body, False, T0 + step * 1000)
            except Exception as exc:  # the scrape fails the same way on both paths
                errors.append((step, type(exc).__name__))
            if fast and step in (1, 2):
                assert isinstance(loop._layout, Layout)
        results[fast] = (_dump(db), errors)
        db.close()
    assert results[True] == results[False]
    data, _ = results[True]
    assert (
        len(data[from_dict({"__name__": "reqs", "path": "/p7", "job": "j", "instance": "x"})]) == 6
    )
    assert not any(dict(k)["__name__"] == "drop_me" for k in data)


def test_layout_rejects_changed_lines() -> None:
    from tidewatch.ingest.layout import build_layout

    body = b'# TYPE a gauge\na{x="1"} 1\nb 2\n'
    lay = build_layout(body, False, [b'a{x="1"}', b"b"], [True, True], [1, 2], [(), ()])
    assert lay is not None
    assert lay.values(b'# TYPE a gauge\na{x="1"} 10.5\nb +Inf\n', False).tolist() == [10.5, np.inf]
    for other in (
        b'# TYPE a counter\na{x="1"} 1\nb 2\n',
        b'# TYPE a gauge\na{x="2"} 1\nb 2\n',
        b'# TYPE a gauge\na{x="1"} 1 1000\nb 2\n',
        b'# TYPE a gauge\na{x="1"} 1\nb 2',
        b'# TYPE a gauge\na{x="1"} 1\nb \n',
        b'# TYPE a gauge\na{x="1"} 1\nb 2\nc 3\n',
        b'# TYPE a gauge\na{x="1"} 0x1p3\nb 2\n',
    ):
        assert lay.values(other, False) is None, other
    assert lay.values(body, True) is None


def test_batch_and_single_appends_keep_call_order(tmp_path: Path) -> None:
    db = TSDB.open(str(tmp_path))
    try:
        lbls = from_dict({"__name__": "m"})
        app = db.appender()
        ref = app.append(0, lbls, T0, 1.0)
        app.append_batch(np.array([ref]), [lbls], np.array([T0 + 1000]), np.array([2.0]))
        app.append(ref, lbls, T0 + 2000, 3.0)
        stats = app.commit()
        assert stats.out_of_order == 0
        assert list(_dump(db).values()) == [[(T0, 1.0), (T0 + 1000, 2.0), (T0 + 2000, 3.0)]]
    finally:
        db.close()
