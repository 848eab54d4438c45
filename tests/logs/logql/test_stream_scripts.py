"""Our own ``.logqltest`` scripts for log (stream) queries, one case per file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.logs.logql.logqltest import run_file

FILES = sorted((Path(__file__).resolve().parent / "testdata").glob("*.logqltest"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_stream_script(path: Path) -> None:
    results = run_file(path)
    failed = [r for r in results if not r.ok]
    print(f"{path.name}: passed {len(results) - len(failed)}, failed {len(failed)}")
    assert results
    assert not failed, "\n".join(f"{r.name}: {r.query}\n  {r.message}" for r in failed)
