"""Limits and retention of the log store, with Loki's defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewatch.matcher import Matcher

NS_PER_S = 1_000_000_000
HOUR_NS = 3600 * NS_PER_S


@dataclass
class StreamRetention:
    """``retention_stream``: streams matching ``matchers`` keep ``period_ns`` (highest priority wins)."""

    matchers: list[Matcher]
    period_ns: int
    priority: int = 0


@dataclass
class LogStoreOptions:
    # Ingestion limits (Loki's limits_config defaults).
    max_line_size: int = 256_000  # bytes ("256KB" as Loki parses it); 0 = unlimited
    max_line_size_truncate: bool = False
    max_label_names_per_series: int = 15
    max_label_name_length: int = 1024
    max_label_value_length: int = 2048
    max_structured_metadata_size: int = 64 * 1024
    max_structured_metadata_entries_count: int = 128
    ingestion_rate_mb: float = 4.0  # MB/s over the whole store; 0 = unlimited
    ingestion_burst_size_mb: float = 6.0
    reject_old_samples: bool = True
    reject_old_samples_max_age_ns: int = 7 * 24 * HOUR_NS
    creation_grace_period_ns: int = 10 * 60 * NS_PER_S
    # Out-of-order window: an entry may be up to max_chunk_age/2 older than its stream's newest.
    max_chunk_age_ns: int = 2 * HOUR_NS
    max_returned_stream_errors: int = 10
    max_streams: int = 0  # active streams; 0 = unlimited (Loki: max_streams_per_user)
    tenant: str = "fake"
    # Head chunks.
    chunk_target_bytes: int = 256 * 1024  # raw line bytes per chunk before it is cut
    chunk_idle_ns: int = 30 * 60 * NS_PER_S
    compression_level: int = 1  # zstd: on JSON logs level 1 is as small as 3, and 1.5x faster
    # Compaction (in maintain): merge a stream's chunks into ~compact_target_bytes ones,
    # recompressed at compact_level; at most compact_budget_bytes of raw lines per round.
    compact_level: int = 8  # on JSON logs: ~0.13 of raw at 1 MB, about as fast as 7
    compact_target_bytes: int = 1 << 20
    compact_budget_bytes: int = 64 << 20
    chunk_segment_bytes: int = 64 << 20
    # WAL: 0 = fsync before every push is acknowledged; else fsync this often.
    wal_sync_interval_ms: int = 1000
    # Checkpoint once the WAL is larger than this and than twice the heads' bytes.
    wal_checkpoint_bytes: int = 16 << 20
    # Retention: 0 = keep forever.
    retention_ns: int = 0
    retention_stream: list[StreamRetention] = field(default_factory=list)
    max_bytes: int = 0  # total chunk bytes on disk; 0 = unlimited
    # Delete requests can be cancelled this long; then they are applied to the data.
    delete_cancel_period_ns: int = 24 * HOUR_NS
    query_cache_bytes: int = 128 << 20
