"""The Promtail-compatible log agent: tails files, runs pipeline stages, pushes lines
to the in-process log store or to a remote Loki-compatible URL.

In the server (lines go straight into the log store)::

    cfg = logs_section_from_file(config_path)        # or logs_section_from_raw(sections["logs"])
    agent = LogAgent(cfg, InProcessSink(log_store.push), data_dir=data_dir / "logs" / "agent")
    await agent.start()                               # then self_metrics.add_source(agent)
    await agent.apply_config(new_cfg)                 # on reload
    await agent.stop()                                # before the log store closes

Standalone (``tidewatch agent``): ``LogAgent(load_promtail_file(path), HTTPSink(cfg.clients[0]))``.
"""

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
