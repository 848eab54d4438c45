"""Alertmanager: configuration, routing, grouping, inhibition, silences and the
notification pipeline, compatible with Prometheus Alertmanager's files and decisions."""
