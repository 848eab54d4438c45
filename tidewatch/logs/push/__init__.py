"""Loki push request bodies (JSON and protobuf + snappy) decoded into columnar streams."""
