from __future__ import annotations

import pytest

from tests.logs.agent.helpers import CollectSink


@pytest.fixture
def sink() -> CollectSink:
    return CollectSink()
