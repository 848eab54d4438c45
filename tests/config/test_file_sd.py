"""file_sd target files, JSON and YAML, as Prometheus reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewatch.config import ConfigError, file_sd_paths, load_file_sd
from tidewatch.config.model import FileSDConfig

from .conftest import PROMTOOL_DATA


@pytest.mark.parametrize("name", ["good-sd-file.json", "good-sd-file.yaml"])
def test_promtool_good_sd_files(name: str) -> None:
    path = str(PROMTOOL_DATA / name)
    groups = load_file_sd(path)
    targets = [t for g in groups for t in g.targets]
    assert targets == ["localhost:9100"]
    assert all(g.labels["__meta_filepath"] == path for g in groups)
    labelled = [g for g in groups if "job" in g.labels]
    assert labelled and labelled[0].labels["job"] == "node"


def test_json_and_yaml_agree(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(
        '[\n  {"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod", "team": "crm"}},\n'
        '  {"targets": ["h3:9100"]}\n]\n'
    )
    (tmp_path / "a.yml").write_text(
        "- targets: [h1:9100, h2:9100]\n  labels: {env: prod, team: crm}\n- targets: [h3:9100]\n"
    )
    from_json = load_file_sd(str(tmp_path / "a.json"))
    from_yaml = load_file_sd(str(tmp_path / "a.yml"))
    assert [
        (g.targets, {k: v for k, v in g.labels.items() if not k.startswith("__")})
        for g in from_json
    ] == [
        (["h1:9100", "h2:9100"], {"env": "prod", "team": "crm"}),
        (["h3:9100"], {}),
    ]
    assert [g.targets for g in from_yaml] == [g.targets for g in from_json]


@pytest.mark.parametrize(
    ("name", "text", "line", "field", "message"),
    [
        (
            "bad.json",
            '[\n  {"targets": ["a:1"],\n   "labels": {"1x": "v"}}\n]',
            3,
            "[0].labels.1x",
            '"1x" is not a valid label name',
        ),
        ("bad.json", '[\n  {"targets": ["a:1"]\n  {"targets": []}\n]', 3, "", "invalid JSON"),
        (
            "bad.json",
            '[{"targets": ["a:1"], "labels": {"n": 1}}]',
            1,
            "[0].labels.n",
            "must be a JSON string",
        ),
        ("bad.yml", "- targets: [a:1]\n  lables: {x: y}\n", 2, "[0].lables", "unknown field"),
        ("bad.yml", "- targets: a:1\n", 1, "[0].targets", "into a list"),
        ("bad.yml", "- targets: [a]\n-\n", 2, "[1]", "nil target group"),
        ("bad.txt", "[]", 0, "", "invalid file extension"),
    ],
)
def test_errors_name_file_line_field(
    tmp_path: Path, name: str, text: str, line: int, field: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_file_sd(str(path))
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), line, field), str(err)
    assert message in err.message


def test_empty_yaml_file_has_no_groups(tmp_path: Path) -> None:
    (tmp_path / "empty.yml").write_text("")
    assert load_file_sd(str(tmp_path / "empty.yml")) == []


def test_file_sd_paths_expands_globs(tmp_path: Path) -> None:
    for name in ("b.json", "a.json", "c.yml"):
        (tmp_path / name).write_text("[]")
    cfg = FileSDConfig(files=[str(tmp_path / "*.json"), str(tmp_path / "a.json")])
    assert file_sd_paths(cfg) == [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
