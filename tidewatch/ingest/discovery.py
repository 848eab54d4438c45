"""Service discovery: static_configs, file_sd_configs (JSON/YAML, watched) and http_sd_configs.

Every discoverer runs as one task and calls ``emit(groups)`` with its *complete* current
list of target groups whenever that list may have changed; the scrape pool merges them.
A file or endpoint that turns bad keeps its last good groups, as Prometheus does.
"""

from __future__ import annotations

import asyncio
import glob
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from tidewatch import __version__
from tidewatch.config.errors import ConfigError
from tidewatch.config.file_sd import load_file_sd
from tidewatch.config.model import FileSDConfig, HTTPSDConfig, StaticConfig

log = logging.getLogger(__name__)

# How often file_sd checks file mtimes between full refreshes (Prometheus uses inotify).
FILE_SD_POLL_SECONDS = 1.0


@dataclass
class TargetGroup:
    source: str
    targets: list[dict[str, str]] = field(default_factory=list)  # each has __address__
    labels: dict[str, str] = field(default_factory=dict)


Emit = Callable[[list[TargetGroup]], None]


class Discoverer(Protocol):
    async def run(self, emit: Emit) -> None: ...


class SDError(ValueError):
    pass


def groups_from_list(data: Any, source_prefix: str, extra: dict[str, str]) -> list[TargetGroup]:
    """Parse the file_sd / http_sd document shape: ``[{"targets": [...], "labels": {...}}]``."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise SDError("expected a list of target groups")
    groups: list[TargetGroup] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise SDError(f"target group {i}: expected a mapping")
        unknown = set(item) - {"targets", "labels"}
        if unknown:
            raise SDError(f"target group {i}: unknown field(s) {sorted(unknown)}")
        targets = item.get("targets") or []
        labels = item.get("labels") or {}
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise SDError(f"target group {i}: 'targets' must be a list of strings")
        if not isinstance(labels, dict):
            raise SDError(f"target group {i}: 'labels' must be a mapping")
        str_labels = {str(k): _label_value(v) for k, v in labels.items()}
        str_labels.update(extra)
        groups.append(
            TargetGroup(
                source=f"{source_prefix}:{i}",
                targets=[{"__address__": t} for t in targets],
                labels=str_labels,
            )
        )
    return groups


def _label_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


class StaticDiscoverer:
    def __init__(self, configs: list[StaticConfig]) -> None:
        self.groups = [
            TargetGroup(
                source=str(i),
                targets=[{"__address__": t} for t in sc.targets],
                labels=dict(sc.labels),
            )
            for i, sc in enumerate(configs)
        ]

    async def run(self, emit: Emit) -> None:
        emit(self.groups)


class FileDiscoverer:
    """Reads the files matching ``cfg.files`` (globs in the last element allowed).

    Re-reads when a file's mtime or size changes, when files appear or vanish, and at
    ``refresh_interval`` regardless.
    """

    def __init__(self, cfg: FileSDConfig, base_dir: str = "") -> None:
        self.patterns = [
            p if os.path.isabs(p) or not base_dir else os.path.join(base_dir, p) for p in cfg.files
        ]
        self.refresh_s = max(cfg.refresh_interval_ms / 1000.0, 0.001)
        self._stamps: dict[str, tuple[float, int]] = {}
        self._last_good: dict[str, list[TargetGroup]] = {}
        self.read_errors = 0

    def _paths(self) -> list[str]:
        out: list[str] = []
        for pat in self.patterns:
            out.extend(sorted(glob.glob(pat)))
        return out

    def _stat_all(self) -> dict[str, tuple[float, int]]:
        stamps: dict[str, tuple[float, int]] = {}
        for p in self._paths():
            try:
                st = os.stat(p)
            except OSError:
                continue
            stamps[p] = (st.st_mtime, st.st_size)
        return stamps

    def _read(self, path: str) -> list[TargetGroup]:
        # One file_sd reader for the project: the config package's, with line numbers.
        return [
            TargetGroup(
                source=f"{path}:{i}",
                targets=[{"__address__": t} for t in sc.targets],
                labels=dict(sc.labels),
            )
            for i, sc in enumerate(load_file_sd(path))
        ]

    def load(self) -> list[TargetGroup]:
        stamps = self._stat_all()
        groups: list[TargetGroup] = []
        current: dict[str, list[TargetGroup]] = {}
        for path in stamps:
            try:
                current[path] = self._read(path)
            except (OSError, ValueError, ConfigError) as exc:
                self.read_errors += 1
                log.error("file_sd: error reading %s: %s", path, exc)
                current[path] = self._last_good.get(path, [])
            groups.extend(current[path])
        self._last_good = current
        self._stamps = stamps
        return groups

    async def run(self, emit: Emit) -> None:
        emit(self.load())
        loop = asyncio.get_running_loop()
        last_full = loop.time()
        while True:
            await asyncio.sleep(min(FILE_SD_POLL_SECONDS, self.refresh_s))
            now = loop.time()
            if now - last_full >= self.refresh_s or self._stat_all() != self._stamps:
                last_full = now
                emit(self.load())


class HTTPDiscoverer:
    def __init__(
        self, cfg: HTTPSDConfig, make_session: Callable[[], aiohttp.ClientSession]
    ) -> None:
        self.cfg = cfg
        self.make_session = make_session
        self.refresh_s = max(cfg.refresh_interval_ms / 1000.0, 0.001)
        self.last_error = ""

    async def fetch(self, session: aiohttp.ClientSession) -> list[TargetGroup]:
        headers = {
            "Accept": "application/json",
            "User-Agent": f"tidewatch/{__version__}",
            "X-Prometheus-Refresh-Interval-Seconds": f"{self.refresh_s:g}",
        }
        timeout = aiohttp.ClientTimeout(total=max(self.refresh_s, 5.0))
        async with session.get(self.cfg.url, headers=headers, timeout=timeout) as resp:
            if resp.status != 200:
                raise SDError(f"server returned HTTP status {resp.status} {resp.reason}")
            ctype = resp.headers.get("Content-Type", "")
            if not ctype.startswith("application/json"):
                raise SDError(f'unsupported content type "{ctype}"')
            data = json.loads(await resp.read())
        return groups_from_list(data, self.cfg.url, {"__meta_url": self.cfg.url})

    async def run(self, emit: Emit) -> None:
        session = self.make_session()
        try:
            while True:
                try:
                    emit(await self.fetch(session))
                    self.last_error = ""
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    self.last_error = str(exc)
                    log.error("http_sd %s: %s", self.cfg.url, exc)
                await asyncio.sleep(self.refresh_s)
        finally:
            await session.close()
