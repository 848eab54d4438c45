"""Remote write *sending*: WAL-backed queues that forward committed samples to
remote-write receivers (Prometheus, Mimir, Thanos Receive, VictoriaMetrics ...)."""

from tidewatch.remote.send.config import RemoteWriteConfig, RemoteWriteConfigError, decode_configs
from tidewatch.remote.send.manager import RemoteWriteManager, TeeStorage

__all__ = [
    "RemoteWriteConfig",
    "RemoteWriteConfigError",
    "RemoteWriteManager",
    "TeeStorage",
    "decode_configs",
]
