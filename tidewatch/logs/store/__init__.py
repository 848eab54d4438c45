"""The log store (``<data>/logs``): streams, WAL, compressed chunks, index, retention.

Typical use::

    store = LogStore.open(path, LogStoreOptions(...), progress)  # replays the WAL
    store.start_background()        # WAL fsync, head cutting, checkpoints, retention
    result = store.push(decode_push(body, content_type, content_encoding))
    for chunk in store.select(matchers, start_ns, end_ns): ...   # LogQL's LogReader
    store.close()
"""

from tidewatch.logs.store.options import LogStoreOptions, StreamRetention
from tidewatch.logs.store.store import LogStore, PushResult

__all__ = ["LogStore", "LogStoreOptions", "PushResult", "StreamRetention"]
