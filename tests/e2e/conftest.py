from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import MetricsTarget


@pytest.fixture
def target() -> Iterator[MetricsTarget]:
    t = MetricsTarget(
        "# HELP demo_requests_total Requests served.\n"
        "# TYPE demo_requests_total counter\n"
        'demo_requests_total{code="200"} 10\n'
        'demo_requests_total{code="500"} 1\n'
        "# HELP demo_temperature Current temperature.\n"
        "# TYPE demo_temperature gauge\n"
        "demo_temperature 21.5\n"
        "go_goroutines 7\n"
    )
    yield t
    t.close()


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
