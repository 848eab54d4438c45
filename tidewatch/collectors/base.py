"""Pieces every host sub-collector shares: paths, a per-scrape file reader, filters, families."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import re2
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, UnknownMetricFamily

Family = CounterMetricFamily | GaugeMetricFamily | UnknownMetricFamily


class NoData(Exception):
    """This host does not provide a collector's source (module not loaded, no PSI ...)."""


@dataclass(frozen=True, slots=True)
class HostPaths:
    """Where /proc, /sys and the root filesystem are (all three move when run in a container)."""

    proc_path: str = "/proc"
    sys_path: str = "/sys"
    rootfs_path: str = "/"

    def proc(self, rel: str) -> str:
        return f"{self.proc_path.rstrip('/')}/{rel}"

    def sys(self, rel: str) -> str:
        return f"{self.sys_path.rstrip('/')}/{rel}"

    def rootfs(self, path: str) -> str:
        return os.path.join(self.rootfs_path, path.lstrip("/"))

    def strip_rootfs(self, mount_point: str) -> str:
        """A mount point as the host sees it, without the rootfs prefix."""
        root = self.rootfs_path.rstrip("/")
        if not root:
            return mount_point
        if mount_point == root:
            return "/"
        return mount_point[len(root) :] if mount_point.startswith(root + "/") else mount_point


class Files:
    """Reads each file at most once per scrape (cpu and stat both need /proc/stat)."""

    def __init__(self) -> None:
        self._cache: dict[str, str] = {}

    def text(self, path: str) -> str:
        cached = self._cache.get(path)
        if cached is None:
            with open(path, "rb") as f:
                cached = f.read().decode("utf-8", "replace")
            self._cache[path] = cached
        return cached

    def optional(self, path: str) -> str | None:
        """The file's text, or None when it is missing or unreadable (EINVAL on sysfs)."""
        try:
            return self.text(path)
        except OSError:
            return None


class Pattern:
    """An unanchored RE2 search (as Go's regexp.MatchString) with its answers remembered.

    The names it sees (netstat fields, devices, mount points) repeat every
    scrape, and an RE2 call costs microseconds, so each name is matched once.
    """

    _MAX_CACHED = 10_000  # device names can churn (veth); don't grow without bound

    def __init__(self, pattern: str) -> None:
        self._regex: Any = re2.compile(pattern)
        self._cache: dict[str, bool] = {}

    def search(self, text: str) -> bool:
        hit = self._cache.get(text)
        if hit is None:
            if len(self._cache) >= self._MAX_CACHED:
                self._cache.clear()
            hit = self._cache[text] = self._regex.search(text) is not None
        return hit


def compile_filter(pattern: str) -> Pattern | None:
    """None for an empty pattern: it filters nothing, as in node_exporter."""
    return Pattern(pattern) if pattern else None


def excluded(pattern: Pattern | None, name: str) -> bool:
    return pattern is not None and pattern.search(name)


def family(kind: str, name: str, doc: str, labels: list[str] | None = None) -> Family:
    """An empty family of node_exporter's `kind` (counter, gauge or untyped)."""
    if kind == "counter":
        return CounterMetricFamily(name, doc, labels=labels)
    if kind == "gauge":
        return GaugeMetricFamily(name, doc, labels=labels)
    return UnknownMetricFamily(name, doc, labels=labels)


def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def untyped(name: str, doc: str, value: float) -> UnknownMetricFamily:
    return UnknownMetricFamily(name, doc, value=value)


def read_int(files: Files, path: str) -> float | None:
    """A sysfs/procfs file holding one integer (decimal or 0x hex), None if absent or invalid."""
    raw = files.optional(path)
    if raw is None:
        return None
    text = raw.strip()
    try:
        return float(int(text, 16) if text.startswith(("0x", "0X")) else int(text))
    except ValueError:
        return None
