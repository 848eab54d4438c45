"""Backfilling an OpenMetrics file into blocks."""

from pathlib import Path

import pytest

from tests.tsdb.helpers import HOUR, as_dict, lbl, open_db, select_all
from tidewatch.tsdb.importer import BackfillError, import_openmetrics

START_S = 1_700_000_000  # seconds, as OpenMetrics writes them


def _write(path: Path, hours: int) -> dict:  # type: ignore[type-arg]
    lines = ["# HELP jobs_total Jobs.", "# TYPE jobs_total counter"]
    want: dict = {}  # type: ignore[type-arg]
    for i in range(hours * 60):
        t = START_S + i * 60 + 0.25
        for q in ("a", "b"):
            lines.append(f'jobs_total{{queue="{q}"}} {i} {t}')
            want.setdefault(lbl("jobs_total", queue=q), []).append((int(t * 1000), float(i)))
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
    return want


def test_import_writes_one_block_per_range(tmp_path: Path) -> None:
    src = tmp_path / "in.om"
    want = _write(src, 5)
    phases: list[tuple[str, float]] = []
    stats = import_openmetrics(str(src), str(tmp_path / "data"), lambda p, f: phases.append((p, f)))
    assert stats.samples == 600 and stats.series == 2
    assert 3 <= len(stats.blocks) <= 4  # 5 hours over 2h-aligned ranges
    assert phases[-1] == ("write blocks", 1.0)
    db = open_db(tmp_path / "data", retention_ms=1000 * HOUR)
    assert as_dict(select_all(db, "jobs_total")) == want
    db.maintain()  # imported history compacts like any other blocks
    assert as_dict(select_all(db, "jobs_total")) == want
    db.close()


def test_import_needs_timestamps(tmp_path: Path) -> None:
    src = tmp_path / "in.om"
    src.write_text("x 1\n# EOF\n")
    with pytest.raises(BackfillError):
        import_openmetrics(str(src), str(tmp_path / "data"))
