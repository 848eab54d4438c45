"""From ``static_configs`` + ``relabel_configs`` to the files to tail and their labels."""

from __future__ import annotations

import fnmatch
import glob
import logging
import os
from dataclasses import dataclass

from tidewatch.ingest.relabel import compile_relabel, relabel
from tidewatch.logs.agent.config import AgentScrapeConfig

PATH_LABEL = "__path__"
PATH_EXCLUDE_LABEL = "__path_exclude__"
FILENAME_LABEL = "filename"

log = logging.getLogger(__name__)


@dataclass
class FileTarget:
    path: str
    labels: dict[str, str]  # final stream labels (with ``filename``)


class TargetResolver:
    """Resolves a scrape config's groups (relabelled once) to files on each sync."""

    def __init__(self, cfg: AgentScrapeConfig) -> None:
        rules = compile_relabel(cfg.relabel_configs)
        self.patterns: list[tuple[str, str, dict[str, str]]] = []  # glob, exclude, labels
        for group in cfg.groups:
            lbls = relabel(dict(group.labels), rules) if rules else dict(group.labels)
            if lbls is None:
                continue  # dropped by relabeling
            if not lbls.get(PATH_LABEL):
                log.warning("job %s: a target has no __path__ label; skipped", cfg.job_name)
                continue
            public = {k: v for k, v in lbls.items() if not k.startswith("__") and v}
            self.patterns.append((lbls[PATH_LABEL], lbls.get(PATH_EXCLUDE_LABEL, ""), public))

    def resolve(self) -> dict[str, FileTarget]:
        out: dict[str, FileTarget] = {}
        for pattern, exclude, labels in self.patterns:
            excludes = expand_braces(exclude) if exclude else []
            for path in (
                p for pat in expand_braces(pattern) for p in glob.glob(pat, recursive=True)
            ):
                if path in out or any(fnmatch.fnmatch(path, ex) for ex in excludes):
                    continue
                if not os.path.isfile(path):
                    continue
                out[path] = FileTarget(path, {**labels, FILENAME_LABEL: path})
        return out


def expand_braces(pattern: str) -> list[str]:
    """``/var/log/{syslog,auth}.log`` -> both paths (doublestar's alternation, which
    Python's glob lacks); nested braces expand too."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth = 0
    parts: list[str] = []
    last = start + 1
    for i in range(start, len(pattern)):
        c = pattern[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                parts.append(pattern[last:i])
                head, tail = pattern[:start], pattern[i + 1 :]
                return [x for alt in parts for x in expand_braces(head + alt + tail)]
        elif c == "," and depth == 1:
            parts.append(pattern[last:i])
            last = i + 1
    return [pattern]  # unbalanced: taken literally
