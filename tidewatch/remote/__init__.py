"""Prometheus's remote protocols: remote write receive (1.0 and 2.0), remote read
(samples and streamed XOR chunks) and federation rendering."""
