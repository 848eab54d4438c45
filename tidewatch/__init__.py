"""tidewatch: the Prometheus / Loki / Alertmanager / Grafana stack as one Python process."""

__version__ = "0.1.0"
