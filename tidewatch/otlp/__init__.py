"""OTLP metrics receive: decode ``ExportMetricsServiceRequest`` (protobuf or JSON) and
translate it to Prometheus series the way Prometheus's OTLP endpoint does."""
