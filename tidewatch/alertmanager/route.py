"""The routing tree, as Alertmanager's ``dispatch.Route``: options inherited from the
parent, depth-first left-to-right matching with ``continue``, the root as catch-all,
and the route and group keys that notifications and the API name groups by."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from tidewatch.alertmanager.config import (
    DEFAULT_GROUP_INTERVAL_MS,
    DEFAULT_GROUP_WAIT_MS,
    DEFAULT_REPEAT_INTERVAL_MS,
    RouteConfig,
)
from tidewatch.alertmanager.matchers import format_matchers, sort_matchers
from tidewatch.goquote import go_quote
from tidewatch.labels import Labels
from tidewatch.matcher import Matcher


@dataclass(frozen=True)
class RouteOpts:
    receiver: str = ""
    group_by: frozenset[str] = frozenset()
    group_by_all: bool = False
    group_wait_ms: int = DEFAULT_GROUP_WAIT_MS
    group_interval_ms: int = DEFAULT_GROUP_INTERVAL_MS
    repeat_interval_ms: int = DEFAULT_REPEAT_INTERVAL_MS
    # Not inherited: each route names its own (as Alertmanager does).
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()


@dataclass(eq=False)
class Route:
    opts: RouteOpts
    matchers: list[Matcher]
    continue_: bool = False
    parent: Route | None = None
    routes: list[Route] = field(default_factory=list)
    idx: int = 0  # post-order index, unique in the tree (children before parents)

    def match(self, lbls: Mapping[str, str]) -> list[Route]:
        """The routes an alert with these labels goes to (at least the root's)."""
        for m in self.matchers:
            if not m.matches(lbls.get(m.name, "")):
                return []
        out: list[Route] = []
        for child in self.routes:
            found = child.match(lbls)
            out.extend(found)
            if found and not child.continue_:
                break
        return out if out else [self]

    def match_labels(self, lbls: Labels) -> list[Route]:
        return self.match(dict(lbls))

    def key(self) -> str:
        """Alertmanager's route key: the matchers of every ancestor, ``/``-joined."""
        own = format_matchers(self.matchers)
        return f"{self.parent.key()}/{own}" if self.parent is not None else own

    def id(self) -> str:
        """Like :meth:`key`, with each node's position among its siblings (unique)."""
        own = format_matchers(self.matchers)
        if self.parent is None:
            return own
        pos = next(i for i, r in enumerate(self.parent.routes) if r is self)
        return f"{self.parent.id()}/{own}/{pos}"

    def walk(self) -> Iterator[Route]:
        yield self
        for child in self.routes:
            yield from child.walk()

    def group_labels(self, lbls: Labels) -> Labels:
        """The alert's labels that name its aggregation group on this route."""
        if self.opts.group_by_all:
            return lbls
        group_by = self.opts.group_by
        return tuple(p for p in lbls if p[0] in group_by)

    def group_key(self, group_labels: Labels) -> str:
        return f"{self.key()}:{format_labelset(group_labels)}"


def build_route_tree(cfg: RouteConfig) -> Route:
    counter = [0]
    return _build(cfg, None, counter)


def _build(cfg: RouteConfig, parent: Route | None, counter: list[int]) -> Route:
    base = parent.opts if parent is not None else RouteOpts()
    group_by, group_by_all = base.group_by, base.group_by_all
    if cfg.group_by is not None:
        if cfg.group_by == ["..."]:
            # Alertmanager keeps the parent's explicit list when a child says "...":
            # GroupByAll overrides it in practice, so the result is the same.
            group_by_all = True
        else:
            group_by, group_by_all = frozenset(cfg.group_by), False
    opts = RouteOpts(
        receiver=cfg.receiver or base.receiver,
        group_by=group_by,
        group_by_all=group_by_all,
        group_wait_ms=_pick(cfg.group_wait_ms, base.group_wait_ms),
        group_interval_ms=_pick(cfg.group_interval_ms, base.group_interval_ms),
        repeat_interval_ms=_pick(cfg.repeat_interval_ms, base.repeat_interval_ms),
        mute_time_intervals=tuple(cfg.mute_time_intervals),
        active_time_intervals=tuple(cfg.active_time_intervals),
    )
    route = Route(opts, sort_matchers(cfg.matchers), cfg.continue_, parent)
    route.routes = [_build(child, route, counter) for child in cfg.routes]
    route.idx = counter[0]
    counter[0] += 1
    return route


def _pick(own: int | None, inherited: int) -> int:
    return inherited if own is None else own


def receivers_for(root: Route, lbls: Labels) -> list[str]:
    """Receiver names in routing order, as ``amtool config routes test`` prints them
    (a receiver reached twice is listed twice)."""
    return [r.opts.receiver for r in root.match_labels(lbls)]


# --- Go-compatible printing of label sets (model.LabelSet.String) ----------------


def _is_legacy_name(name: str) -> bool:
    if not name or not (name[0].isascii() and (name[0].isalpha() or name[0] in "_:")):
        return False
    return all(c.isascii() and (c.isalnum() or c in "_:") for c in name)


def format_labelset(lbls: Labels) -> str:
    """``{alertname="x", job="y"}`` — names sorted, values Go-quoted."""
    parts = []
    for name, value in lbls:
        key = name if _is_legacy_name(name) else go_quote(name)
        parts.append(f"{key}={go_quote(value)}")
    return "{" + ", ".join(parts) + "}"
