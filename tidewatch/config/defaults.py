"""Defaults that are tidewatch's own (Prometheus's live in ``model.py``)."""

from __future__ import annotations

# Like Prometheus's --storage.tsdb.path=data/: relative to the working directory.
DEFAULT_STORAGE_PATH = "data"
# The built-in config scrapes tidewatch itself and its host collector this often.
DEFAULT_SELF_SCRAPE_INTERVAL_MS = 15_000
NODE_COLLECTOR_PATH = "/collectors/node/metrics"
