"""What the HTTP handlers need from the running server, as one narrow interface.

Handlers never reach into the server object itself; tests can hand them any object
with these attributes.
"""

from __future__ import annotations

from typing import Any, Protocol

from tidewatch.alertmanager.service import Alertmanager
from tidewatch.collectors.host import HostCollector
from tidewatch.collectors.self_metrics import SelfMetrics
from tidewatch.config.model import Config
from tidewatch.ingest.manager import ScrapeManager
from tidewatch.logs.logql import LogQLEngine
from tidewatch.logs.store.store import LogStore
from tidewatch.promql.engine import Engine
from tidewatch.rules.manager import RuleManager
from tidewatch.tsdb import TSDB
from tidewatch.tsdb.interface import Storage


class Services(Protocol):
    config: Config
    tsdb: TSDB
    # The write path: the TSDB, teed to remote_write when that is configured.
    storage: Storage
    scrape_manager: ScrapeManager
    engine: Engine
    rule_manager: RuleManager
    alertmanager: Alertmanager
    log_store: LogStore
    logql: LogQLEngine
    self_metrics: SelfMetrics
    host_collector: HostCollector
    flags: dict[str, str]
    ready: bool
    start_time: float
    last_reload_success: bool
    last_reload_time: float

    async def reload(self) -> None:
        """Re-read the config file; raise ``ConfigError`` and keep the old one if it is bad."""
        ...

    def runtime_info(self) -> dict[str, Any]: ...
