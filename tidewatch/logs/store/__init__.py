"""The log store (``<data>/logs``): streams, WAL, compressed chunks, index, retention."""

from tidewatch.logs.store.options import LogStoreOptions, StreamRetention
from tidewatch.logs.store.store import LogStore, PushResult

__all__ = ["LogStore", "LogStoreOptions", "PushResult", "StreamRetention"]
