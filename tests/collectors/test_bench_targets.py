"""The synthetic targets of bench/ingest.py: valid exposition, the promised series count."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client.parser import text_string_to_metric_families

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_ingest() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_ingest", BENCH / "ingest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_ingest"] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("series", [50, 1000, 2345])
def test_target_exposition_is_valid_and_sized(series: int) -> None:
    ingest = load_ingest()
    layout = ingest.Layout.for_series(series)
    assert abs(layout.series - series) <= 1
    body, samples = ingest.render_target(layout, 3, 1_700_000_000)
    later, _ = ingest.render_target(layout, 3, 1_700_000_001)
    fams = list(text_string_to_metric_families(body.decode()))
    assert sum(len(f.samples) for f in fams) == samples == layout.series
    assert {f.type for f in fams} == {"counter", "gauge", "histogram"}
    assert body != later  # values change every second
