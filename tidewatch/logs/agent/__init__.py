"""The Promtail-compatible log agent: tails files, runs pipeline stages, pushes lines
to the in-process log store or to a remote Loki-compatible URL."""

from tidewatch.logs.agent.config import (
    AgentConfig,
    ClientConfig,
    decode_logs_node,
    decode_promtail,
    load_promtail_file,
    logs_section_from_file,
    logs_section_from_raw,
)
from tidewatch.logs.agent.runner import LogAgent
from tidewatch.logs.agent.sink import HTTPSink, InProcessSink, LogBatch, Sink, SinkError

__all__ = [
    "AgentConfig",
    "ClientConfig",
    "HTTPSink",
    "InProcessSink",
    "LogAgent",
    "LogBatch",
    "Sink",
    "SinkError",
    "decode_logs_node",
    "decode_promtail",
    "load_promtail_file",
    "logs_section_from_file",
    "logs_section_from_raw",
]
