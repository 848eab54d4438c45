"""Helpers shared by the agent tests: a collecting sink, a config builder, a waiter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tidewatch.logs.agent.config import AgentConfig, decode_promtail
from tidewatch.logs.agent.sink import LogBatch


class CollectSink:
    """Keeps every pushed entry; can be told to fail."""

    def __init__(self) -> None:
        self.entries: LogBatch = []
        self.closed = False

    async def push(self, batch: LogBatch) -> None:
        self.entries.extend(batch)

    async def close(self) -> None:
        self.closed = True

    def lines(self) -> list[str]:
        return [e[2] for e in self.entries]


def promtail_config(tmp_path: Path, body: str, glob: str = "*.log") -> AgentConfig:
    text = f"""
positions:
  filename: {tmp_path / "positions.yaml"}
  sync_period: 50ms
target_config:
  sync_period: 50ms
global:
  file_watch_config:
    min_poll_frequency: 20ms
scrape_configs:
  - job_name: test
    static_configs:
      - targets: [localhost]
        labels:
          job: app
          __path__: {tmp_path / "logs" / glob}
{body}
"""
    return decode_promtail(text, str(tmp_path / "promtail.yml"))


async def wait_for(pred: Callable[[], bool], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if pred():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")
