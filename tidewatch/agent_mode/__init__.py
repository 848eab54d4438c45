"""Agent mode for metrics: scrape and forward with remote write, keeping only the
remote-write queues' logs on disk (no head, no blocks, no queries)."""

from tidewatch.agent_mode.agent import MetricsAgent
from tidewatch.agent_mode.storage import SeriesOnlyStorage

__all__ = ["MetricsAgent", "SeriesOnlyStorage"]
