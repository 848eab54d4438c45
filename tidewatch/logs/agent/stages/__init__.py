"""Promtail's pipeline stages, built from ``pipeline_stages`` YAML with errors that name
file, line and field."""

from __future__ import annotations

from collections.abc import Callable

from yaml.nodes import MappingNode, Node

from tidewatch.config.yamlnodes import Ctx, MapView
from tidewatch.logs.agent.stages.base import (
    Entry,
    Pipeline,
    PipelineStats,
    Stage,
    StageBuild,
    get_string,
)
from tidewatch.logs.agent.stages.extra import (
    build_decolorize,
    build_pack,
    build_sampling,
    build_tenant,
)
from tidewatch.logs.agent.stages.filters import build_drop, build_limit, build_match
from tidewatch.logs.agent.stages.formats import build_cri, build_docker
from tidewatch.logs.agent.stages.labelstages import (
    build_labelallow,
    build_labeldrop,
    build_labels,
    build_static_labels,
    build_structured_metadata,
)
from tidewatch.logs.agent.stages.metrics import build_metrics, custom_metrics_of
from tidewatch.logs.agent.stages.multiline import build_multiline
from tidewatch.logs.agent.stages.parsers import build_json, build_logfmt, build_regex
from tidewatch.logs.agent.stages.transform import (
    build_output,
    build_replace,
    build_template,
    build_timestamp,
)

__all__ = [
    "Entry",
    "Pipeline",
    "PipelineStats",
    "Stage",
    "build_pipeline",
    "custom_metrics_of",
    "get_string",
]

Builder = Callable[[MapView, StageBuild], Stage]

# stage name -> (builder, allowed fields; None = free-form label map)
_STAGES: dict[str, tuple[Builder, frozenset[str] | None]] = {
    "docker": (build_docker, frozenset()),
    "cri": (
        build_cri,
        frozenset({"max_partial_lines", "max_partial_line_size", "max_partial_line_size_truncate"}),
    ),
    "json": (build_json, frozenset({"expressions", "source", "drop_malformed"})),
    "regex": (build_regex, frozenset({"expression", "source"})),
    "logfmt": (build_logfmt, frozenset({"mapping", "source"})),
    "labels": (build_labels, None),
    "structured_metadata": (build_structured_metadata, None),
    "static_labels": (build_static_labels, None),
    "labelallow": (build_labelallow, None),
    "labeldrop": (build_labeldrop, None),
    "timestamp": (
        build_timestamp,
        frozenset({"source", "format", "fallback_formats", "location", "action_on_failure"}),
    ),
    "output": (build_output, frozenset({"source"})),
    "template": (build_template, frozenset({"source", "template"})),
    "replace": (build_replace, frozenset({"expression", "source", "replace"})),
    "drop": (
        build_drop,
        frozenset(
            {
                "source",
                "separator",
                "value",
                "expression",
                "older_than",
                "longer_than",
                "drop_counter_reason",
            }
        ),
    ),
    "limit": (
        build_limit,
        frozenset({"rate", "burst", "drop", "by_label_name", "max_distinct_labels"}),
    ),
    "match": (
        build_match,
        frozenset({"selector", "stages", "action", "pipeline_name", "drop_counter_reason"}),
    ),
    "multiline": (build_multiline, frozenset({"firstline", "max_wait_time", "max_lines"})),
    "decolorize": (build_decolorize, frozenset()),
    "sampling": (build_sampling, frozenset({"rate", "drop_counter_reason"})),
    "pack": (build_pack, frozenset({"labels", "ingest_timestamp"})),
    "metrics": (build_metrics, None),
    "tenant": (build_tenant, frozenset({"label", "source", "value"})),
}
_LIST_STAGES = frozenset({"labelallow", "labeldrop"})
STAGE_NAMES = tuple(_STAGES)


def _build_stage(ctx: Ctx, node: Node, path: str, build: StageBuild) -> Stage:
    if not isinstance(node, MappingNode) or len(node.value) != 1:
        raise ctx.error(node, path, "a pipeline stage is a mapping with exactly one stage name")
    outer = MapView(ctx, node, path, STAGE_NAMES)
    name = outer.names()[0]
    builder, allowed = _STAGES[name]
    body = outer.node(name)
    body_path = outer.path_of(name)
    if name in _LIST_STAGES:
        view = MapView(ctx, None, body_path, None)
        view.root = body
    else:
        view = MapView(ctx, body, body_path, allowed)
    return builder(view, build)


def build_stages(ctx: Ctx, node: Node, path: str, stats: PipelineStats) -> list[Stage]:
    def nested(n: Node, p: str) -> list[Stage]:
        return build_stages(ctx, n, p, stats)

    build = StageBuild(ctx, stats, nested)
    return [_build_stage(ctx, item, p, build) for item, p in ctx.as_seq(node, path)]


def build_pipeline(ctx: Ctx, node: Node | None, path: str) -> Pipeline:
    """A pipeline from a ``pipeline_stages`` node (None: no stages)."""
    stats = PipelineStats()
    if node is None:
        return Pipeline([], stats)
    return Pipeline(build_stages(ctx, node, path, stats), stats)
