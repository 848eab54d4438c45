"""Host metrics with node_exporter's names (`host.HostCollector`) and tidewatch's own
/metrics (`self_metrics.SelfMetrics`)."""
