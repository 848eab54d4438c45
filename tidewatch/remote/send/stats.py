"""Counters of one remote-write queue, exported as ``prometheus_remote_storage_*``."""

from __future__ import annotations

from dataclasses import dataclass, field

# Prometheus's buckets for prometheus_remote_storage_sent_batch_duration_seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300)


@dataclass
class QueueStats:
    samples_total: int = 0  # per attempt, as Prometheus counts
    samples_delivered: int = 0
    samples_failed: int = 0
    samples_retried: int = 0
    samples_dropped: int = 0  # by relabeling, sample_age_limit or the backlog cap
    samples_pending: int = 0
    bytes_total: int = 0
    highest_sent_ts: float = 0.0  # seconds
    highest_enqueued_ts: float = 0.0  # seconds
    shards: int = 1
    exemplars_total: int = 0
    exemplars_failed: int = 0
    exemplars_retried: int = 0
    exemplars_pending: int = 0
    metadata_total: int = 0
    metadata_failed: int = 0
    metadata_retried: int = 0
    batch_buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    batch_sum: float = 0.0
    batch_count: int = 0

    def observe_batch(self, seconds: float) -> None:
        self.batch_sum += seconds
        self.batch_count += 1
        for i, bound in enumerate(DURATION_BUCKETS):
            if seconds <= bound:
                self.batch_buckets[i] += 1
