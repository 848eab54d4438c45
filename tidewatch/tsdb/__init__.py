"""The time-series store: in-memory head with a write-ahead log, immutable compressed
blocks on disk, compaction and retention. Other packages use :class:`TSDB` through
the ``Appender`` / ``Querier`` interfaces in :mod:`tidewatch.tsdb.interface`.

Data directory (like Prometheus's)::

    <ULID>/meta.json  index  chunks     one block per directory, immutable
    wal/00000012 ...                    WAL segments (framed, CRC32-checked records)
    wal/checkpoint.00000011             head state replacing segments <= 11

Durability: ``Appender.commit()`` writes its WAL records to the OS before the samples
become visible, so a killed process (``kill -9``) loses nothing committed. The WAL is
fsynced every ``TSDBOptions.wal_sync_interval_ms`` (default 1 s; 0 = on every
commit) by the background thread, which bounds what a power cut can lose.

Head: commits fill a columnar buffer; full buffers are compressed into runs (sorted,
delta-of-delta / integer-delta / XOR columns, byte planes, zstd) off the append path,
and small runs are merged. Once the head spans 1.5 block durations, the oldest block
range is written as a block and the WAL is checkpointed. Blocks are merged into
ranges 3x longer at each level (up to a tenth of the retention) and deleted by time
(counted from the newest block, so backfilled history is kept) or total size.

Out-of-order samples, duplicates and out-of-bounds samples follow Prometheus (see
``Head.check``); ``out_of_order_window_ms`` accepts late samples within the window.
Out-of-order samples older than the newest block's end are rejected as out of bounds
(Prometheus would write an overlapping block for them).
"""

from tidewatch.tsdb.backup import backup, restore
from tidewatch.tsdb.db import TSDB
from tidewatch.tsdb.options import TSDBOptions

__all__ = ["TSDB", "TSDBOptions", "backup", "restore"]
