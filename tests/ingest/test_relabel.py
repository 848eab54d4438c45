from __future__ import annotations

import pytest

from tidewatch.config.model import RelabelConfig as RC
from tidewatch.ingest.relabel import RelabelConfigError, compile_relabel, hashmod, relabel


def run(labels: dict[str, str], *cfgs: RC) -> dict[str, str] | None:
    return relabel(labels, compile_relabel(list(cfgs)))


def test_replace_with_groups_and_defaults() -> None:
    lb = {"a": "foo", "b": "bar"}
    assert run(
        lb, RC(source_labels=["a"], regex="f(o+)", target_label="d", replacement="x-$1")
    ) == {
        **lb,
        "d": "x-oo",
    }
    # Regex is fully anchored: a partial match does nothing.
    assert run(lb, RC(source_labels=["a"], regex="o+", target_label="d")) == lb
    # Separator joins source labels; ${1} form; missing source label is "".
    out = run(
        lb,
        RC(
            source_labels=["a", "b", "zz"],
            regex="(.*);(.*);",
            target_label="c",
            replacement="${2}_${1}",
        ),
    )
    assert out is not None and out["c"] == "bar_foo"
    # $1x names group "1x", which does not exist -> empty, as in Go.
    out = run(lb, RC(source_labels=["a"], regex="(.*)", target_label="c", replacement="$1x"))
    assert out == lb
    # Empty result deletes the target label.
    assert run(lb, RC(source_labels=["zz"], regex="(.*)", target_label="a")) == {"b": "bar"}
    # Target label expanded from groups; invalid result is skipped.
    out = run(lb, RC(source_labels=["a"], regex="(.*)", target_label="lbl_$1", replacement="v"))
    assert out is not None and out["lbl_foo"] == "v"
    assert (
        run(lb, RC(source_labels=["a"], regex="(.*)", target_label="${1}-x", replacement="v")) == lb
    )
    # Named groups and $$.
    out = run(
        lb,
        RC(source_labels=["a"], regex="(?P<first>f)(.*)", target_label="n", replacement="$first$$"),
    )
    assert out is not None and out["n"] == "f$"
    out = run(lb, RC(source_labels=["a"], target_label="lit", replacement="a$$b"))
    assert out is not None and out["lit"] == "a$b"


def test_keep_drop_and_equal_variants() -> None:
    lb = {"__name__": "up", "job": "api", "env": "api"}
    assert run(lb, RC(source_labels=["job"], regex="api|web", action="keep")) == lb
    assert run(lb, RC(source_labels=["job"], regex="ap", action="keep")) is None
    assert run(lb, RC(source_labels=["job"], regex="a.*", action="drop")) is None
    assert run(lb, RC(source_labels=["job"], regex="b.*", action="drop")) == lb
    assert run(lb, RC(source_labels=["job"], target_label="env", action="keepequal")) == lb
    assert run(lb, RC(source_labels=["job"], target_label="__name__", action="keepequal")) is None
    assert run(lb, RC(source_labels=["job"], target_label="env", action="dropequal")) is None
    assert run(lb, RC(source_labels=["job"], target_label="__name__", action="dropequal")) == lb


def test_hashmod_matches_prometheus() -> None:
    # Values computed with Prometheus's algorithm (md5, low 8 bytes big-endian).
    assert (
        hashmod("foo", 1000)
        == int.from_bytes(__import__("hashlib").md5(b"foo").digest()[8:], "big") % 1000
    )
    out = run(
        {"a": "foo"}, RC(source_labels=["a"], target_label="shard", modulus=10, action="hashmod")
    )
    assert out is not None and out["shard"] == str(hashmod("foo", 10))
    assert 0 <= int(out["shard"]) < 10


def test_labelmap_labeldrop_labelkeep() -> None:
    lb = {"__meta_kubernetes_pod_label_app": "web", "__meta_x": "1", "job": "j", "tmp_x": "t"}
    out = run(
        lb, RC(regex="__meta_kubernetes_pod_label_(.+)", replacement="k8s_$1", action="labelmap")
    )
    assert out is not None and out["k8s_app"] == "web" and out["__meta_x"] == "1"
    assert run(lb, RC(regex="__meta_.*|tmp_.*", action="labeldrop")) == {"job": "j"}
    assert run(lb, RC(regex="job|tmp_x", action="labelkeep")) == {"job": "j", "tmp_x": "t"}


def test_lowercase_uppercase() -> None:
    lb = {"a": "MiXed"}
    assert run(lb, RC(source_labels=["a"], target_label="l", action="lowercase")) == {
        **lb,
        "l": "mixed",
    }
    assert run(lb, RC(source_labels=["a"], target_label="u", action="uppercase")) == {
        **lb,
        "u": "MIXED",
    }


def test_rules_apply_in_order_and_input_is_not_mutated() -> None:
    lb = {"__address__": "h:1"}
    out = run(
        lb,
        RC(source_labels=["__address__"], regex="(.*):.*", target_label="__tmp_host"),
        RC(source_labels=["__tmp_host"], target_label="host"),
    )
    assert out == {"__address__": "h:1", "__tmp_host": "h", "host": "h"}
    assert lb == {"__address__": "h:1"}


def test_re2_semantics_and_invalid_configs() -> None:
    # RE2 has no backreferences: rejected at compile time.
    with pytest.raises(RelabelConfigError):
        compile_relabel([RC(source_labels=["a"], regex="(a)\\1")])
    with pytest.raises(RelabelConfigError):
        compile_relabel([RC(action="nope")])
    with pytest.raises(RelabelConfigError):
        compile_relabel([RC(action="hashmod", target_label="x")])
    with pytest.raises(RelabelConfigError):
        compile_relabel([RC(action="replace", target_label="")])
    # (?s) semantics: dot matches newline in label values.
    assert run({"a": "x\ny"}, RC(source_labels=["a"], regex="x.y", action="keep")) is not None
