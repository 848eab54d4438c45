"""Scrape targets: from discovered labels to final target labels, URL and schedule offset.

Follows Prometheus's ``PopulateLabels``: config defaults are added to the discovered
labels (those are what ``discoveredLabels`` shows), relabel_configs run, ``instance``
defaults to ``__address__``, and every ``__``-prefixed label is dropped from the
target's labels (but still drives the URL: ``__scheme__``, ``__metrics_path__``,
``__param_*``). No default port is added to the address, as in Prometheus 3.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from tidewatch.config.model import ScrapeConfig
from tidewatch.duration import DurationError, format_duration, parse_duration
from tidewatch.ingest.relabel import CompiledRelabel, is_valid_label_name, relabel
from tidewatch.labels import Labels, from_dict

ADDRESS = "__address__"
SCHEME = "__scheme__"
METRICS_PATH = "__metrics_path__"
SCRAPE_INTERVAL = "__scrape_interval__"
SCRAPE_TIMEOUT = "__scrape_timeout__"
PARAM_PREFIX = "__param_"


class TargetError(ValueError):
    pass


@dataclass
class Target:
    labels: Labels  # final labels, no "__" names
    discovered: dict[str, str]  # before relabeling, with config defaults
    full: dict[str, str]  # after relabeling, "__" names included
    url: str
    interval_ms: int
    timeout_ms: int
    hash: int = field(default=0)

    def __post_init__(self) -> None:
        h = hashlib.blake2b(digest_size=8)
        for k, v in self.labels:
            h.update(k.encode() + b"\xff" + v.encode() + b"\xff")
        h.update(self.url.encode())
        self.hash = int.from_bytes(h.digest(), "big")

    def offset_s(self, seed: int, now_s: float | None = None) -> float:
        """Seconds to wait before the first scrape, spreading targets over the interval.

        The phase is fixed per target (its hash), so restarts keep the same schedule.
        """
        interval_ns = self.interval_ms * 1_000_000
        now_ns = time.time_ns() if now_s is None else int(now_s * 1e9)
        base = interval_ns - now_ns % interval_ns
        nxt = base + ((self.hash ^ seed) % interval_ns)
        if nxt > interval_ns:
            nxt -= interval_ns
        return nxt / 1e9


def with_defaults(discovered: dict[str, str], cfg: ScrapeConfig) -> dict[str, str]:
    """The discovered labels plus what the scrape config contributes (Prometheus's order)."""
    lb = dict(discovered)
    lb.setdefault("job", cfg.job_name)
    lb.setdefault(SCRAPE_INTERVAL, format_duration(cfg.scrape_interval_ms))
    lb.setdefault(SCRAPE_TIMEOUT, format_duration(cfg.scrape_timeout_ms))
    lb.setdefault(METRICS_PATH, cfg.metrics_path)
    lb.setdefault(SCHEME, cfg.scheme)
    for name, values in cfg.params.items():
        if values:
            lb.setdefault(PARAM_PREFIX + name, values[0])
    return lb


def build_url(full: dict[str, str], cfg: ScrapeConfig) -> str:
    params: dict[str, list[str]] = {k: list(v) for k, v in cfg.params.items()}
    for name, value in full.items():
        if name.startswith(PARAM_PREFIX):
            key = name[len(PARAM_PREFIX) :]
            if params.get(key):
                params[key][0] = value
            else:
                params[key] = [value]
    path = full.get(METRICS_PATH, "/metrics")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{full.get(SCHEME, 'http')}://{full[ADDRESS]}{path}"
    if params:
        url += ("&" if "?" in path else "?") + urlencode(params, doseq=True)
    return url


def populate(
    discovered: dict[str, str], cfg: ScrapeConfig, rules: list[CompiledRelabel]
) -> tuple[Target | None, dict[str, str]]:
    """Build a target; ``(None, discovered)`` when relabeling dropped it.

    Raises :class:`TargetError` for an unusable result (no address, bad interval...).
    """
    disc = with_defaults(discovered, cfg)
    lb = relabel(disc, rules)
    if lb is None:
        return None, disc
    addr = lb.get(ADDRESS, "")
    if not addr:
        raise TargetError("no address")
    if any(c in addr for c in "/?#@ "):
        raise TargetError(f'invalid address "{addr}"')
    try:
        interval_ms = parse_duration(
            lb.get(SCRAPE_INTERVAL, format_duration(cfg.scrape_interval_ms))
        )
        timeout_ms = parse_duration(lb.get(SCRAPE_TIMEOUT, format_duration(cfg.scrape_timeout_ms)))
    except DurationError as exc:
        raise TargetError(f"error parsing scrape interval/timeout: {exc}") from None
    if interval_ms == 0:
        raise TargetError("scrape interval cannot be 0")
    if timeout_ms == 0:
        raise TargetError("scrape timeout cannot be 0")
    if timeout_ms > interval_ms:
        raise TargetError(
            f"scrape timeout cannot be greater than scrape interval "
            f'("{format_duration(timeout_ms)}" > "{format_duration(interval_ms)}")'
        )
    lb.setdefault("instance", addr)
    final = {k: v for k, v in lb.items() if not k.startswith("__")}
    for name in final:
        if not is_valid_label_name(name):
            raise TargetError(f'invalid label name "{name}"')
    return (
        Target(
            labels=from_dict(final),
            discovered=disc,
            full=lb,
            url=build_url(lb, cfg),
            interval_ms=interval_ms,
            timeout_ms=timeout_ms,
        ),
        disc,
    )
