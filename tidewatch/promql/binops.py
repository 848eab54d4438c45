"""Binary operators: arithmetic, comparisons (filtering or ``bool``), set operators
and vector matching (one-to-one, group_left/right), over all steps at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tidewatch.labels import METRIC_NAME, Labels
from tidewatch.promql.ast import BinaryExpr, Cardinality, VectorMatching
from tidewatch.promql.errors import QueryError, go_labels
from tidewatch.promql.values import F64, Bools, ScalarSteps, StepValue, VectorSteps

if TYPE_CHECKING:
    from tidewatch.promql.engine import Evaluator

ARITHMETIC = {"+", "-", "*", "/", "%", "^", "atan2"}
COMPARISON = {"==", "!=", ">", "<", ">=", "<="}
SET_OPS = {"and", "or", "unless"}
_METADATA = {METRIC_NAME, "__type__", "__unit__"}


def arith(op: str, a: F64, b: F64) -> F64:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b
    if op == "%":
        return np.fmod(a, b)
    if op == "^":
        return np.power(a, b)
    if op == "atan2":
        return np.arctan2(a, b)
    raise QueryError("internal", f"unknown arithmetic operator {op}")


def compare(op: str, a: F64, b: F64) -> Bools:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == ">":
        return a > b
    if op == "<":
        return a < b
    if op == ">=":
        return a >= b
    if op == "<=":
        return a <= b
    raise QueryError("internal", f"unknown comparison operator {op}")


def binary(ev: Evaluator, node: BinaryExpr) -> StepValue:
    op = node.op
    lhs = ev.eval(node.lhs)
    rhs = ev.eval(node.rhs)
    if op in SET_OPS:
        if not (isinstance(lhs, VectorSteps) and isinstance(rhs, VectorSteps)):
            raise QueryError(
                "execution", f"set operator {op} not allowed in binary scalar expression"
            )
        return set_op(op, lhs, rhs, node.matching or VectorMatching(Cardinality.MANY_TO_MANY))
    if isinstance(lhs, ScalarSteps) and isinstance(rhs, ScalarSteps):
        if op in COMPARISON:
            return ScalarSteps(compare(op, lhs.values, rhs.values).astype(np.float64))
        return ScalarSteps(arith(op, lhs.values, rhs.values))
    if isinstance(lhs, VectorSteps) and isinstance(rhs, ScalarSteps):
        return vector_scalar(op, lhs, rhs.values, swap=False, return_bool=node.return_bool)
    if isinstance(lhs, ScalarSteps) and isinstance(rhs, VectorSteps):
        return vector_scalar(op, rhs, lhs.values, swap=True, return_bool=node.return_bool)
    if isinstance(lhs, VectorSteps) and isinstance(rhs, VectorSteps):
        return vector_vector(op, lhs, rhs, node.matching or VectorMatching(), node.return_bool)
    raise QueryError("internal", f"invalid operands for binary operator {op}")


def vector_scalar(
    op: str, vec: VectorSteps, scalar: F64, *, swap: bool, return_bool: bool
) -> VectorSteps:
    s = scalar[None, :]
    a, b = (s, vec.values) if swap else (vec.values, s)
    if op in COMPARISON:
        keep = compare(op, a, b)
        if return_bool:
            return VectorSteps(
                vec.labels,
                keep.astype(np.float64),
                vec.present,
                np.ones(len(vec.labels), dtype=bool),
            )
        return VectorSteps(vec.labels, vec.values, vec.present & keep, vec.drop_name).compact()
    values = np.broadcast_to(arith(op, a, b), vec.values.shape).copy()
    return VectorSteps(vec.labels, values, vec.present, np.ones(len(vec.labels), dtype=bool))


def signature(lbls: Labels, on: bool, names: frozenset[str]) -> Labels:
    if on:
        return tuple(p for p in lbls if p[0] in names)
    return tuple(p for p in lbls if p[0] not in names and p[0] != METRIC_NAME)


def _sig_ids(
    labels: list[Labels], on: bool, names: frozenset[str], table: dict[Labels, int]
) -> np.ndarray:
    ids = np.empty(len(labels), dtype=np.int64)
    for i, lbls in enumerate(labels):
        sig = signature(lbls, on, names)
        ids[i] = table.setdefault(sig, len(table))
    return ids


def _sig_presence(ids: np.ndarray, present: Bools, n_sigs: int) -> np.ndarray:
    counts = np.zeros((n_sigs, present.shape[1]), dtype=np.int64)
    if len(ids):
        np.add.at(counts, ids, present.astype(np.int64))
    return counts


def set_op(op: str, lhs: VectorSteps, rhs: VectorSteps, m: VectorMatching) -> VectorSteps:
    names = frozenset(m.matching_labels)
    table: dict[Labels, int] = {}
    lid = _sig_ids(lhs.labels, m.on, names, table)
    rid = _sig_ids(rhs.labels, m.on, names, table)
    n_sigs = len(table)
    if op == "and":
        rp = np.asarray(_sig_presence(rid, rhs.present, n_sigs) > 0)
        present = lhs.present & rp[lid] if len(lid) else lhs.present
        return VectorSteps(lhs.labels, lhs.values, present, lhs.drop_name).compact()
    if op == "unless":
        rp = _sig_presence(rid, rhs.present, n_sigs) > 0
        present = lhs.present & ~rp[lid] if len(lid) else lhs.present
        return VectorSteps(lhs.labels, lhs.values, present, lhs.drop_name).compact()
    lp = _sig_presence(lid, lhs.present, n_sigs) > 0
    rpres = rhs.present & ~lp[rid] if len(rid) else rhs.present
    return VectorSteps(
        lhs.labels + rhs.labels,
        np.vstack([lhs.values, rhs.values]),
        np.vstack([lhs.present, rpres]),
        np.concatenate([lhs.drop_name, rhs.drop_name]),
    ).compact()


def _result_labels(
    many: Labels, one: Labels, op: str, m: VectorMatching, names: frozenset[str]
) -> Labels:
    d = dict(many)
    if op in ARITHMETIC:
        for k in _METADATA:
            d.pop(k, None)
    if m.card is Cardinality.ONE_TO_ONE:
        if m.on:
            d = {k: v for k, v in d.items() if k in names}
        else:
            for k in names:
                d.pop(k, None)
    one_d = dict(one)
    for ln in m.include:
        v = one_d.get(ln, "")
        if v:
            d[ln] = v
        else:
            d.pop(ln, None)
    return tuple(sorted(d.items()))


def vector_vector(
    op: str, lhs: VectorSteps, rhs: VectorSteps, m: VectorMatching, return_bool: bool
) -> VectorSteps:
    n = lhs.n_steps
    if m.card is Cardinality.MANY_TO_MANY:
        raise QueryError("internal", "many-to-many only allowed for set operators")
    has_fill = m.fill_lhs is not None or m.fill_rhs is not None
    if (not lhs.labels and not rhs.labels) or ((not lhs.labels or not rhs.labels) and not has_fill):
        return VectorSteps.empty(n)
    swapped = m.card is Cardinality.ONE_TO_MANY
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    names = frozenset(m.matching_labels)
    table: dict[Labels, int] = {}
    many_id = _sig_ids(many.labels, m.on, names, table)
    one_id = _sig_ids(one.labels, m.on, names, table)
    n_sigs = len(table)
    one_count = _sig_presence(one_id, one.present, n_sigs)
    active: Bools = np.asarray(many.present.any(axis=0) & one.present.any(axis=0), dtype=bool)
    dup = (one_count > 1) & active[None, :]
    if dup.any():
        sig_i, step_j = (int(x[0]) for x in np.nonzero(dup))
        dups = [r for r in range(len(one.labels)) if one_id[r] == sig_i and one.present[r, step_j]]
        first, second = sorted(go_labels(one.labels[r]) for r in dups[:2])
        side = "left" if swapped else "right"
        sig = next(k for k, v in table.items() if v == sig_i)
        raise QueryError(
            "execution",
            f"found duplicate series for the match group {go_labels(sig)} on the {side} "
            f"hand-side of the operation: [{first}, {second}];many-to-many matching not allowed: "
            "matching labels must be unique on one side",
        )
    # For each signature and step: which one-side row is present (or -1).
    pick = np.full((n_sigs, n), -1, dtype=np.int64)
    pr, pc = np.nonzero(one.present)  # row-major: a later row wins, as in a row loop
    pick[one_id[pr], pc] = pr
    r_idx = pick[many_id]  # (many rows, steps)
    matched = many.present & (r_idx >= 0)
    if m.card is Cardinality.ONE_TO_ONE:
        per_sig = _sig_presence(many_id, matched, n_sigs)
        if (per_sig > 1).any():
            raise QueryError(
                "execution",
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)",
            )
    safe = np.maximum(r_idx, 0)
    if len(one.labels):
        one_vals = one.values[safe, np.arange(n)[None, :]]
    else:
        one_vals = np.zeros_like(many.values)
    values, present = _apply(op, many.values, one_vals, matched, swapped, return_bool)
    # Result rows: one per (many row, one row) pair actually matched.
    out_labels: list[Labels] = []
    out_v: list[np.ndarray] = []
    out_p: list[np.ndarray] = []
    out_m: list[np.ndarray] = []
    rows = np.flatnonzero(matched.any(axis=1))
    if m.card is Cardinality.ONE_TO_ONE or not m.include:
        # Result labels depend on the many side only: one row per many row.
        out_labels = [_result_labels(many.labels[i], (), op, m, names) for i in rows.tolist()]
        out_v = list(values[rows])
        out_p = list(present[rows])
        out_m = list(matched[rows])
    else:
        # Usually each many row meets one partner at every step: one output row.
        big = np.iinfo(np.int64).max
        lo_r = np.where(matched, r_idx, big).min(axis=1)
        hi_r = np.where(matched, r_idx, -1).max(axis=1)
        for i in rows.tolist():
            mi = matched[i]
            if lo_r[i] == hi_r[i]:
                r = int(lo_r[i])
                out_labels.append(_result_labels(many.labels[i], one.labels[r], op, m, names))
                out_v.append(values[i])
                out_p.append(present[i] & mi)
                out_m.append(mi)
                continue
            for r in np.unique(r_idx[i][mi]).tolist():
                sel = mi & (r_idx[i] == r)
                out_labels.append(_result_labels(many.labels[i], one.labels[r], op, m, names))
                out_v.append(values[i])
                out_p.append(present[i] & sel)
                out_m.append(sel)
    if m.fill_rhs is not None:
        # Many-side samples without a partner meet the fill value.
        for i in range(len(many.labels)):
            miss = many.present[i] & (r_idx[i] < 0)
            if not miss.any():
                continue
            fill = np.full(n, m.fill_rhs)
            v, p = _apply(op, many.values[i], fill, miss, swapped, return_bool)
            sig = signature(many.labels[i], m.on, names)
            out_labels.append(_result_labels(many.labels[i], sig, op, m, names))
            out_v.append(v)
            out_p.append(p)
            out_m.append(miss)
    if m.fill_lhs is not None:
        # One-side samples no many-side sample matched stand in for a filled many side.
        used = _sig_presence(many_id, matched, n_sigs) > 0
        for r in range(len(one.labels)):
            miss = one.present[r] & ~used[one_id[r]]
            if not miss.any():
                continue
            fill = np.full(n, m.fill_lhs)
            v, p = _apply(op, fill, one.values[r], miss, swapped, return_bool)
            sig = signature(one.labels[r], m.on, names)
            out_labels.append(_result_labels(sig, one.labels[r], op, m, names))
            out_v.append(v)
            out_p.append(p)
            out_m.append(miss)
    if not out_labels:
        return VectorSteps.empty(n)
    return _merge_rows(out_labels, out_v, out_p, out_m, return_bool, m.card)


def _apply(
    op: str, many_v: F64, one_v: F64, matched: Bools, swapped: bool, return_bool: bool
) -> tuple[F64, Bools]:
    """Operator result and presence; operands go back to their written order."""
    a, b = (one_v, many_v) if swapped else (many_v, one_v)
    if op in COMPARISON:
        keep = compare(op, a, b)
        if return_bool:
            return keep.astype(np.float64), matched
        return np.asarray(a, dtype=np.float64), matched & keep
    return arith(op, a, b), matched


def _merge_rows(
    labels: list[Labels],
    vals: list[np.ndarray],
    pres: list[np.ndarray],
    matched: list[np.ndarray],
    return_bool: bool,
    card: Cardinality,
) -> VectorSteps:
    if len(set(labels)) == len(labels):
        drop = np.full(len(labels), return_bool, dtype=bool)
        return VectorSteps(labels, np.vstack(vals), np.vstack(pres), drop).compact()
    index: dict[Labels, int] = {}
    mv: list[np.ndarray] = []
    mp: list[np.ndarray] = []
    mm: list[np.ndarray] = []
    order: list[Labels] = []
    for lbls, v, p, mt in zip(labels, vals, pres, matched, strict=True):
        j = index.get(lbls)
        if j is None:
            index[lbls] = len(order)
            order.append(lbls)
            mv.append(v.copy())
            mp.append(p.copy())
            mm.append(mt.copy())
            continue
        if (mm[j] & mt).any():
            if card is Cardinality.ONE_TO_ONE:
                raise QueryError(
                    "execution", "vector cannot contain metrics with the same labelset"
                )
            raise QueryError(
                "execution",
                "multiple matches for labels: grouping labels must ensure unique matches",
            )
        mv[j] = np.where(mt, v, mv[j])
        mp[j] |= p
        mm[j] |= mt
    drop = np.full(len(order), return_bool, dtype=bool)
    return VectorSteps(order, np.vstack(mv), np.vstack(mp), drop).compact()
