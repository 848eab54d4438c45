"""The experimental ``info()`` function: enrich series with the data labels of
info metrics (``target_info`` by default) joined on ``instance`` and ``job``.

Info series are selected once for all steps; steps that see the same choice of
info series share one label computation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import re2

from tidewatch.labels import METRIC_NAME, Labels
from tidewatch.matcher import Matcher, MatchType
from tidewatch.promql.ast import Call, Expr, SubqueryExpr, VectorSelector, walk
from tidewatch.promql.errors import QueryError, go_labels
from tidewatch.promql.values import VectorSteps

if TYPE_CHECKING:
    from tidewatch.promql.engine import Evaluator

TARGET_INFO = "target_info"
IDENTIFYING = ("instance", "job")


def _effective_name_matchers(matchers: list[Matcher]) -> list[Matcher]:
    if any(m.type in (MatchType.EQUAL, MatchType.REGEX) for m in matchers):
        return matchers
    if matchers:
        return [Matcher(MatchType.REGEX, METRIC_NAME, ".+_info"), *matchers]
    return [Matcher(MatchType.EQUAL, METRIC_NAME, TARGET_INFO)]


def _timing(expr: Expr) -> tuple[int | None, str | None, int]:
    """``@``/offset of the first vector selector (and enclosing subqueries), which
    info series are read with."""
    for node in walk(expr):
        if isinstance(node, VectorSelector):
            at, mod, offset = node.at_ms, node.at_modifier, node.offset_ms
            if at is None and mod is None:
                for sq in walk(expr):
                    if isinstance(sq, SubqueryExpr) and node in list(walk(sq.expr)):
                        offset += sq.offset_ms
                        at, mod = sq.at_ms, sq.at_modifier
            return at, mod, offset
    return None, None, 0


def _quote_meta(s: str) -> str:
    return re2.escape(s)


def eval_info(ev: Evaluator, node: Call) -> VectorSteps:
    base = ev.eval_vector(node.args[0])
    n = ev.n
    data_matchers: dict[str, list[Matcher]] = {}
    name_matchers: list[Matcher] = []
    if len(node.args) > 1:
        sel = node.args[1]
        if not isinstance(sel, VectorSelector):
            raise QueryError("execution", "info(): second argument must be a label selector")
        for m in sel.matchers:
            data_matchers.setdefault(m.name, []).append(m)
            if m.name == METRIC_NAME:
                name_matchers.append(m)
    else:
        name_matchers = [Matcher(MatchType.EQUAL, METRIC_NAME, TARGET_INFO)]
    effective = _effective_name_matchers(name_matchers)
    ignore = np.array(
        [
            all(m.matches(dict(lbls).get(METRIC_NAME, "")) for m in effective)
            for lbls in base.labels
        ],
        dtype=bool,
    )
    id_values: dict[str, set[str]] = {}
    for lbls, ign in zip(base.labels, ignore.tolist(), strict=True):
        if ign:
            continue
        d = dict(lbls)
        for ln in IDENTIFYING:
            if d.get(ln):
                id_values.setdefault(ln, set()).add(d[ln])
    name_free = {k: v for k, v in data_matchers.items() if k != METRIC_NAME}
    info_labels: list[Labels] = []
    info_t = np.zeros((0, n), dtype=np.int64)
    info_p = np.zeros((0, n), dtype=bool)
    if id_values:
        matchers = [
            Matcher(MatchType.REGEX, ln, "|".join(_quote_meta(v) for v in sorted(vals)))
            for ln, vals in id_values.items()
        ]
        matchers += [m for ms in name_free.values() for m in ms]
        matchers += _effective_name_matchers(data_matchers.get(METRIC_NAME, []))
        at, mod, offset = _timing(node.args[0])
        times = ev.eval_times(at, mod, offset)
        probe = VectorSelector(None, matchers)
        vec, ts = ev.select_vector_at(probe, times, with_ts=True)
        info_labels, info_t, info_p = vec.labels, ts, vec.present
    data_matchers = name_free
    return _combine(base, ignore, info_labels, info_t, info_p, data_matchers)


def _sig(name: str, lbls: Labels) -> Labels:
    return ((METRIC_NAME, name), *((k, v) for k, v in lbls if k in IDENTIFYING))


def _combine(
    base: VectorSteps,
    ignore: np.ndarray,
    info_labels: list[Labels],
    info_t: np.ndarray,
    info_p: np.ndarray,
    data_matchers: dict[str, list[Matcher]],
) -> VectorSteps:
    n = base.n_steps
    names = sorted({dict(lbls).get(METRIC_NAME, "") for lbls in info_labels})
    # Per info signature: which info row is in effect at each step (newest sample wins).
    sig_rows: dict[Labels, list[int]] = {}
    for r, lbls in enumerate(info_labels):
        sig_rows.setdefault(_sig(dict(lbls).get(METRIC_NAME, ""), lbls), []).append(r)
    sigs = list(sig_rows)
    chosen = np.full((len(sigs), n), -1, dtype=np.int64)
    for s_i, sig in enumerate(sigs):
        rows = np.array(sig_rows[sig], dtype=np.intp)
        t = np.where(info_p[rows], info_t[rows], np.iinfo(np.int64).min)
        best = t.max(axis=0)
        ties = ((t == best[None, :]) & info_p[rows]).sum(axis=0) > 1
        if ties.any():
            j = int(np.flatnonzero(ties)[0])
            a, b = [int(r) for r in rows[(t[:, j] == best[j]) & info_p[rows][:, j]][:2]]
            raise QueryError(
                "execution",
                f"found duplicate series for info metric: existing {go_labels(info_labels[a])} "
                f"@ {int(info_t[a, j])}, new {go_labels(info_labels[b])} @ {int(info_t[b, j])}",
            )
        pick = rows[t.argmax(axis=0)]
        chosen[s_i] = np.where(info_p[rows].any(axis=0), pick, -1)
    sig_index = {sig: i for i, sig in enumerate(sigs)}
    empty_ok = all(m.matches("") for ms in data_matchers.values() for m in ms)
    out: dict[Labels, tuple[np.ndarray, np.ndarray, bool]] = {}
    patterns, inverse = (
        np.unique(chosen.T, axis=0, return_inverse=True)
        if len(sigs)
        else (
            np.zeros((1, 0), dtype=np.int64),
            np.zeros(n, dtype=np.int64),
        )
    )
    inverse = np.asarray(inverse).reshape(-1)
    for p_i, pattern in enumerate(patterns):
        steps = inverse == p_i
        for i, lbls in enumerate(base.labels):
            present = base.present[i] & steps
            if not present.any():
                continue
            result = (
                lbls
                if ignore[i]
                else _enrich(lbls, names, sig_index, pattern, info_labels, data_matchers, empty_ok)
            )
            if result is None:
                continue
            _add(out, result, base.values[i], present, bool(base.drop_name[i]), n)
    if not out:
        return VectorSteps.empty(n)
    labels = list(out)
    return VectorSteps(
        labels,
        np.vstack([out[k][0] for k in labels]),
        np.vstack([out[k][1] for k in labels]),
        np.array([out[k][2] for k in labels], dtype=bool),
    )


def _enrich(
    lbls: Labels,
    names: list[str],
    sig_index: dict[Labels, int],
    pattern: np.ndarray,
    info_labels: list[Labels],
    data_matchers: dict[str, list[Matcher]],
    empty_ok: bool,
) -> Labels | None:
    base_d = dict(lbls)
    added: dict[str, str] = {}
    seen = False
    for name in names:
        s_i = sig_index.get(_sig(name, lbls))
        if s_i is None or pattern[s_i] < 0:
            continue
        seen = True
        for k, v in info_labels[int(pattern[s_i])]:
            if k == METRIC_NAME or (data_matchers and k not in data_matchers):
                continue
            if added.get(k, v) != v:
                raise QueryError("execution", f"conflicting label: {k}")
            if k in base_d:
                continue
            added[k] = v
    if not seen and not empty_ok:
        return None
    base_d.update(added)
    return tuple(sorted(base_d.items()))


def _add(
    out: dict[Labels, tuple[np.ndarray, np.ndarray, bool]],
    lbls: Labels,
    values: np.ndarray,
    present: np.ndarray,
    drop: bool,
    n: int,
) -> None:
    cur = out.get(lbls)
    if cur is None:
        out[lbls] = (np.where(present, values, np.nan), present.copy(), drop)
        return
    if (cur[1] & present).any():
        raise QueryError("execution", "vector cannot contain metrics with the same labelset")
    cur[0][present] = values[present]
    cur[1][present] = True
