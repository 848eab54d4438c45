"""The time-series store: in-memory head with a write-ahead log, immutable compressed
blocks on disk, compaction and retention. Other packages use :class:`TSDB` through
the ``Appender`` / ``Querier`` interfaces in :mod:`tidewatch.tsdb.interface`."""

from tidewatch.tsdb.backup import backup, restore
from tidewatch.tsdb.db import TSDB
from tidewatch.tsdb.options import TSDBOptions

__all__ = ["TSDB", "TSDBOptions", "backup", "restore"]
