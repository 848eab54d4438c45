"""From ``static_configs`` + ``relabel_configs`` to the files to tail and their labels."""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass

from tidewatch.ingest.relabel import compile_relabel, relabel
from tidewatch.logs.agent.config import AgentScrapeConfig

PATH_LABEL = "__path__"
PATH_EXCLUDE_LABEL = "__path_exclude__"
FILENAME_LABEL = "filename"


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
            if lbls is None or not lbls.get(PATH_LABEL):
                continue
            public = {k: v for k, v in lbls.items() if not k.startswith("__") and v}
            self.patterns.append((lbls[PATH_LABEL], lbls.get(PATH_EXCLUDE_LABEL, ""), public))

    def resolve(self) -> dict[str, FileTarget]:
        out: dict[str, FileTarget] = {}
        for pattern, exclude, labels in self.patterns:
            for path in glob.glob(pattern, recursive=True):
                if path in out or (exclude and fnmatch.fnmatch(path, exclude)):
                    continue
                if not os.path.isfile(path):
                    continue
                out[path] = FileTarget(path, {**labels, FILENAME_LABEL: path})
        return out
