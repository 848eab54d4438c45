"""Binary operators (arithmetic, comparison, set) with vector matching, and label_replace."""

from __future__ import annotations

import numpy as np

from tidewatch.labels import Labels
from tidewatch.logs.logql import ast
from tidewatch.logs.logql.values import F64, Bools, QueryError, Scalar, Vec
from tidewatch.matcher import compile_anchored

COMPARISONS = frozenset({"==", "!=", ">", ">=", "<", "<="})


def arith(op: str, a: F64, b: F64) -> F64:
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return np.where(b == 0, np.nan, a / np.where(b == 0, 1.0, b))
        if op == "%":
            return np.where(b == 0, np.nan, np.fmod(a, np.where(b == 0, 1.0, b)))
        if op == "^":
            return np.power(a, b)
    raise QueryError(f"unknown operator {op}")


def compare(op: str, a: F64, b: F64) -> Bools:
    with np.errstate(invalid="ignore"):
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == ">":
            return a > b
        if op == ">=":
            return a >= b
        if op == "<":
            return a < b
        return a <= b


def binary_op(node: ast.BinaryExpr, left: Vec | Scalar, right: Vec | Scalar) -> Vec | Scalar:
    op = node.op
    if isinstance(left, Scalar) and isinstance(right, Scalar):
        if op in COMPARISONS:
            return Scalar(compare(op, left.values, right.values).astype(np.float64))
        return Scalar(arith(op, left.values, right.values))
    if isinstance(left, Scalar) or isinstance(right, Scalar):
        return _vector_scalar(node, left, right)
    assert isinstance(left, Vec) and isinstance(right, Vec)
    if op in ("and", "or", "unless"):
        return _set_op(node, left, right)
    return _vector_vector(node, left, right)


def _vector_scalar(node: ast.BinaryExpr, left: Vec | Scalar, right: Vec | Scalar) -> Vec:
    op = node.op
    if isinstance(left, Vec):
        vec, a, b = left, left.values, right.values[None, :]
    else:
        assert isinstance(right, Vec)
        vec, a, b = right, left.values[None, :], right.values
    if op in COMPARISONS:
        ok = compare(op, np.broadcast_to(a, vec.values.shape), np.broadcast_to(b, vec.values.shape))
        if node.return_bool:
            return Vec(list(vec.labels), ok.astype(np.float64), vec.present.copy())
        return Vec(list(vec.labels), vec.values.copy(), vec.present & ok)
    if op in ("and", "or", "unless"):
        raise QueryError(f"unexpected literal for logical/set binary operation ({op})")
    return Vec(
        list(vec.labels), arith(op, np.broadcast_to(a, vec.values.shape), b), vec.present.copy()
    )


def _signature(lb: Labels, m: ast.VectorMatching | None) -> Labels:
    if m is None:
        return lb
    names = set(m.labels)
    if m.on:
        return tuple((k, v) for k, v in lb if k in names)
    return tuple((k, v) for k, v in lb if k not in names)


def _fmt(lb: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in lb) + "}"


def _set_op(node: ast.BinaryExpr, left: Vec, right: Vec) -> Vec:
    m = node.matching
    n = left.values.shape[1]
    rsig: dict[Labels, Bools] = {}
    for i, lb in enumerate(right.labels):
        s = _signature(lb, m)
        rsig[s] = rsig.get(s, np.zeros(n, dtype=bool)) | right.present[i]
    if node.op == "and":
        pres = np.array(
            [
                left.present[i] & rsig.get(_signature(lb, m), np.zeros(n, dtype=bool))
                for i, lb in enumerate(left.labels)
            ]
        ).reshape(len(left.labels), n)
        return Vec(list(left.labels), left.values.copy(), pres)
    if node.op == "unless":
        pres = np.array(
            [
                left.present[i] & ~rsig.get(_signature(lb, m), np.zeros(n, dtype=bool))
                for i, lb in enumerate(left.labels)
            ]
        ).reshape(len(left.labels), n)
        return Vec(list(left.labels), left.values.copy(), pres)
    lsig: dict[Labels, Bools] = {}
    for i, lb in enumerate(left.labels):
        s = _signature(lb, m)
        lsig[s] = lsig.get(s, np.zeros(n, dtype=bool)) | left.present[i]
    rpres = np.array(
        [
            right.present[i] & ~lsig.get(_signature(lb, m), np.zeros(n, dtype=bool))
            for i, lb in enumerate(right.labels)
        ]
    ).reshape(len(right.labels), n)
    labels = list(left.labels)
    values = [row.copy() for row in left.values]
    present = [row.copy() for row in left.present]
    index = {lb: i for i, lb in enumerate(labels)}
    for i, lb in enumerate(right.labels):
        k = index.get(lb)
        if k is not None and not (present[k] & rpres[i]).any():
            # Same labels on both sides at different steps: one series, as Loki returns it.
            values[k] = np.where(rpres[i], right.values[i], values[k])
            present[k] = present[k] | rpres[i]
            continue
        index[lb] = len(labels)
        labels.append(lb)
        values.append(right.values[i].copy())
        present.append(rpres[i])
    if not labels:
        return Vec([], np.zeros((0, n)), np.zeros((0, n), dtype=bool))
    return Vec(labels, np.vstack(values), np.vstack(present))


def _combine_side(
    vec: Vec, m: ast.VectorMatching | None, side: str
) -> dict[Labels, tuple[F64, Bools, Labels]]:
    """The "one" side by signature: values merged over its series; duplicates at a step fail."""
    out: dict[Labels, tuple[F64, Bools, Labels]] = {}
    for i, lb in enumerate(vec.labels):
        s = _signature(lb, m)
        cur = out.get(s)
        if cur is None:
            out[s] = (vec.values[i].copy(), vec.present[i].copy(), lb)
            continue
        vals, pres, first = cur
        if (pres & vec.present[i]).any():
            raise QueryError(
                f"found duplicate series on the {side} hand-side of the operation: "
                f"[{_fmt(first)}, {_fmt(lb)}];many-to-many matching not allowed: "
                "matching labels must be unique on one side"
            )
        vals = np.where(vec.present[i], vec.values[i], vals)
        out[s] = (vals, pres | vec.present[i], first)
    return out


def _vector_vector(node: ast.BinaryExpr, left: Vec, right: Vec) -> Vec:
    m = node.matching
    card = m.card if m is not None else "one-to-one"
    op = node.op
    n = left.values.shape[1]
    if card == "one-to-many":
        many, one, one_side = right, left, "left"
    else:
        many, one, one_side = left, right, "right"
    ones = _combine_side(one, m, one_side)
    out_labels: dict[Labels, int] = {}
    rows_v: list[F64] = []
    rows_p: list[Bools] = []
    matched_steps: dict[Labels, Bools] = {}
    for i, lb in enumerate(many.labels):
        s = _signature(lb, m)
        other = ones.get(s)
        if other is None:
            continue
        o_vals, o_pres, o_lb = other
        pres = many.present[i] & o_pres
        if not pres.any():
            continue
        if card == "one-to-one":
            seen = matched_steps.get(s)
            if seen is not None and (seen & pres).any():
                raise QueryError(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                )
            matched_steps[s] = pres if seen is None else (seen | pres)
        if card == "one-to-many":
            a, b = o_vals, many.values[i]
        else:
            a, b = many.values[i], o_vals
        if op in COMPARISONS:
            ok = compare(op, a, b)
            if node.return_bool:
                vals = ok.astype(np.float64)
            else:
                vals = a.copy()
                pres = pres & ok
        else:
            vals = arith(op, a, b)
        res_lb = _result_labels(lb, o_lb, m, card, op, node.return_bool)
        idx = out_labels.get(res_lb)
        if idx is None:
            out_labels[res_lb] = len(rows_v)
            rows_v.append(np.where(pres, vals, 0.0))
            rows_p.append(pres)
            continue
        if (rows_p[idx] & pres).any():
            raise QueryError(
                "multiple matches for labels: grouping labels must ensure unique matches"
            )
        rows_v[idx] = np.where(pres, vals, rows_v[idx])
        rows_p[idx] = rows_p[idx] | pres
    if not rows_v:
        return Vec([], np.zeros((0, n)), np.zeros((0, n), dtype=bool))
    return Vec(list(out_labels), np.vstack(rows_v), np.vstack(rows_p))


def _result_labels(
    many_lb: Labels,
    one_lb: Labels,
    m: ast.VectorMatching | None,
    card: str,
    op: str,
    return_bool: bool,
) -> Labels:
    if m is None:
        return many_lb
    d = dict(many_lb)
    if card == "one-to-one":
        names = set(m.labels)
        if m.on:
            d = {k: v for k, v in d.items() if k in names}
        else:
            d = {k: v for k, v in d.items() if k not in names}
        return tuple(sorted(d.items()))
    one = dict(one_lb)
    for name in m.include:
        if name in one and one[name] != "":
            d[name] = one[name]
        else:
            d.pop(name, None)
    return tuple(sorted(d.items()))


def label_replace(node: ast.LabelReplace, vec: Vec) -> Vec:
    rx = compile_anchored(node.regex)
    labels: list[Labels] = []
    for lb in vec.labels:
        d = dict(lb)
        src = d.get(node.src, "")
        mt = rx.match(src)
        if mt is not None:
            value = mt.expand(_to_python_template(node.replacement))
            if value == "":
                d.pop(node.dst, None)
            else:
                d[node.dst] = value
        labels.append(tuple(sorted(d.items())))
    return Vec(labels, vec.values.copy(), vec.present.copy())


def _to_python_template(repl: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(repl):
        c = repl[i]
        if c == "\\":
            out.append("\\\\")
        elif c == "$" and i + 1 < len(repl):
            if repl[i + 1] == "{":
                end = repl.find("}", i)
                if end > 0:
                    out.append(f"\\g<{repl[i + 2 : end]}>")
                    i = end + 1
                    continue
            j = i + 1
            while j < len(repl) and (repl[j].isalnum() or repl[j] == "_"):
                j += 1
            if j > i + 1:
                out.append(f"\\g<{repl[i + 1 : j]}>")
                i = j
                continue
            out.append(c)
        else:
            out.append(c)
        i += 1
    return "".join(out)
