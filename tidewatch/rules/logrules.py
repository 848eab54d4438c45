"""Loki ruler rules: where the log rule files are, and how they query the log store.

Log rules are ordinary rule groups whose expressions are LogQL metric queries. They run
in the same :class:`~tidewatch.rules.group.Group` machinery as PromQL rules; only the
query function differs: an instant LogQL query over the log store at evaluation time.

tidewatch.yml::

    logs:
      ruler:
        rule_files: [log-rules/*.yml]     # globs, relative to tidewatch.yml
        storage:                          # or Loki's layout: DIR/<tenant>/<file>.yml
          type: local
          local: {directory: /etc/loki/rules}
        evaluation_interval: 1m           # default: prometheus.global.evaluation_interval
"""

from __future__ import annotations

import glob
import os
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from tidewatch.config.model import Config
from tidewatch.duration import DurationError, parse_duration
from tidewatch.labels import Labels
from tidewatch.logs.logql.engine import LogQLEngine, ScalarResult, VectorResult
from tidewatch.logs.logql.parser import ParseError
from tidewatch.logs.logql.values import QueryError as LogQLQueryError
from tidewatch.logs.store.prefilter import reader_for
from tidewatch.logs.store.store import LogStore
from tidewatch.promql.ast import Expr
from tidewatch.promql.engine import QueryError
from tidewatch.rules.query import QueryFunc
from tidewatch.rules.rulefile import (
    LOGQL,
    PROMQL,
    GroupDef,
    RuleFileError,
    expand_rule_files,
    parse_rule_file,
)

# Loki ruler settings that mean nothing here (one process, one tenant, the shared
# notifier): accepted so a Loki config section can be pasted in, and ignored.
_IGNORED_LOKI_KEYS = frozenset(
    {
        "rule_path",
        "alertmanager_url",
        "alertmanager_client",
        "alertmanager_refresh_interval",
        "enable_alertmanager_v2",
        "enable_alertmanager_discovery",
        "enable_api",
        "enable_sharding",
        "external_url",
        "external_labels",
        "datasource_uid",
        "ring",
        "wal",
        "wal_cleaner",
        "remote_write",
        "notification_queue_capacity",
        "notification_timeout",
        "for_outage_tolerance",
        "for_grace_period",
        "resend_delay",
        "flush_period",
        "poll_interval",
        "search_pending_for",
        "sharding_strategy",
        "evaluation",
        "query_stats_enabled",
        "disabled_rule_groups",
    }
)
_KEYS = frozenset({"rule_files", "storage", "evaluation_interval"}) | _IGNORED_LOKI_KEYS
_RULE_FILE_SUFFIXES = (".yml", ".yaml")


@dataclass
class LogRulerConfig:
    """The ``logs.ruler`` section: rule file globs and an optional own interval."""

    rule_files: list[str] = field(default_factory=list)
    directory: str = ""  # Loki's storage.local.directory
    evaluation_interval_ms: int = 0  # 0: the global evaluation_interval


def ruler_config(cfg: Config) -> LogRulerConfig:
    """Read ``logs.ruler`` from the config; :class:`RuleFileError` when it is malformed."""
    where = f"{cfg.source_path or 'tidewatch.yml'}: logs.ruler"
    logs = cfg.sections.get("logs")
    section = logs.get("ruler") if isinstance(logs, dict) else None
    if section is None:
        return LogRulerConfig()
    if not isinstance(section, dict):
        raise RuleFileError([f"{where}: must be a mapping"])
    unknown = sorted(str(k) for k in section if k not in _KEYS)
    if unknown:
        raise RuleFileError([f"{where}: unknown field {unknown[0]}"])
    out = LogRulerConfig()
    files = section.get("rule_files") or []
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise RuleFileError([f"{where}.rule_files: must be a list of file globs"])
    out.rule_files = list(files)
    out.directory = _storage_directory(section.get("storage"), where)
    interval = section.get("evaluation_interval")
    if interval is not None:
        try:
            out.evaluation_interval_ms = parse_duration(str(interval))
        except DurationError as exc:
            raise RuleFileError([f"{where}.evaluation_interval: {exc}"]) from None
        if out.evaluation_interval_ms <= 0:
            raise RuleFileError([f"{where}.evaluation_interval: must be greater than 0"])
    return out


def _storage_directory(storage: Any, where: str) -> str:
    if storage is None:
        return ""
    if not isinstance(storage, dict):
        raise RuleFileError([f"{where}.storage: must be a mapping"])
    kind = storage.get("type", "local")
    if kind != "local":
        raise RuleFileError(
            [f"{where}.storage.type: only local rule storage is supported, not {kind!r}"]
        )
    local = storage.get("local") or {}
    directory = local.get("directory", "") if isinstance(local, dict) else ""
    if not isinstance(directory, str) or not directory:
        raise RuleFileError([f"{where}.storage.local.directory: must name a directory"])
    return directory


def log_rule_files(ruler: LogRulerConfig, base_dir: str) -> list[str]:
    """Every log rule file: the globs, then Loki's ``DIR/*`` and ``DIR/<tenant>/*``."""
    files = expand_rule_files(ruler.rule_files, base_dir)
    if ruler.directory:
        root = ruler.directory
        if not os.path.isabs(root):
            root = os.path.join(base_dir, root)
        found = glob.glob(os.path.join(root, "*")) + glob.glob(os.path.join(root, "*", "*"))
        for f in sorted(found):
            if f.endswith(_RULE_FILE_SUFFIXES) and os.path.isfile(f) and f not in files:
                files.append(f)
    return files


def explore_link(external_url: str, expr: str) -> str:
    """A log alert's generator URL: the query in the UI's explore page, on the logs."""
    return f"{external_url}/explore?ds=loki&expr={urllib.parse.quote_plus(expr, safe='')}"


def logql_query_func(store: Any, max_entries_limit: int = 5000) -> QueryFunc:
    """Loki's ruler query: an instant LogQL metric query at the evaluation time.

    ``store`` is the log store, or any :class:`~tidewatch.logs.logql.store.LogReader`.
    Errors come back as PromQL's :class:`QueryError` so the group records them as
    the rule's ``lastError`` like any failed rule.
    """

    # The store's literal pre-filter skips chunks without the searched words.
    prefilter = isinstance(store, LogStore)

    def run(expr: Expr | str, t_ms: int) -> list[tuple[Labels, float]]:
        if not isinstance(expr, str):
            raise QueryError("execution", "a log rule's expression must be LogQL text")
        # One engine per query: it keeps per-query statistics on itself.
        engine = LogQLEngine(max_entries_limit=max_entries_limit)
        try:
            reader = reader_for(store, expr) if prefilter else store
            result = engine.query_instant(reader, expr, t_ms * 1_000_000)
        except ParseError as exc:
            raise QueryError("bad_data", str(exc)) from None
        except LogQLQueryError as exc:
            raise QueryError("execution", exc.message) from None
        except (ValueError, TypeError, ArithmeticError) as exc:
            # An engine bug must fail this rule, not end the group's evaluation loop.
            raise QueryError("execution", f"{type(exc).__name__}: {exc}") from None
        if isinstance(result, VectorResult):
            return result.samples
        if isinstance(result, ScalarResult):
            return [((), result.value)]
        raise QueryError("execution", "rule result is not a vector or scalar")

    return run


def parse_rule_file_detect(
    path: str, *, ignore_unknown_fields: bool = False, language: str = ""
) -> tuple[list[GroupDef], str]:
    """Parse a rule file as ``language``, or ("") as PromQL, else as LogQL.

    A file that is neither reports the errors of the language it comes closer to
    (fewer errors; PromQL on a tie). Returns the groups and the language used.
    """
    if language:
        return parse_rule_file(
            path, ignore_unknown_fields=ignore_unknown_fields, language=language
        ), language
    try:
        return parse_rule_file(path, ignore_unknown_fields=ignore_unknown_fields), PROMQL
    except RuleFileError as promql_error:
        try:
            groups = parse_rule_file(
                path, ignore_unknown_fields=ignore_unknown_fields, language=LOGQL
            )
        except RuleFileError as logql_error:
            fewer = len(logql_error.errors) < len(promql_error.errors)
            tie = len(logql_error.errors) == len(promql_error.errors)
            if fewer or (tie and _looks_like_logql(path)):
                raise logql_error from None
            raise promql_error from None
        return groups, LOGQL


# Pipeline syntax that PromQL does not have: a file using it is meant as LogQL.
_LOGQL_MARKERS = (
    "|=",
    "|~",
    "|>",
    "!>",
    "| json",
    "| logfmt",
    "| pattern",
    "| regexp",
    "| unpack",
    "| line_format",
    "| label_format",
    "| unwrap",
    "| decolorize",
)


def _looks_like_logql(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError):
        return False
    return any(marker in text for marker in _LOGQL_MARKERS)
