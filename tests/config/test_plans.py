"""Every prometheus.yml the five plans wrote loads unchanged, with the values they set."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
import yaml

from tidewatch.config import load_config, load_config_text
from tidewatch.config.prometheus import TOP_LEVEL_FIELDS

from .conftest import PLANS, PROMTOOL_DATA

_FENCE = re.compile(r"^([ \t]*)```ya?ml[ \t]*\n(.*?)^[ \t]*```", re.M | re.S)


def prometheus_blocks() -> list[tuple[str, str]]:
    """(plan name + index, text) of each ```yaml block shaped like a prometheus.yml."""
    out: list[tuple[str, str]] = []
    for plan in sorted(PLANS.glob("0*.md")):
        for i, m in enumerate(_FENCE.finditer(plan.read_text(encoding="utf-8"))):
            text = textwrap.dedent(m.group(2))
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError:
                continue  # fragments of other files (compose snippets) are not configs
            if (
                isinstance(doc, dict)
                and set(doc) <= TOP_LEVEL_FIELDS
                and set(doc) & {"scrape_configs", "global"}
            ):
                out.append((f"{plan.stem}#{i}", text))
    return out


BLOCKS = prometheus_blocks()


def test_plans_contain_prometheus_configs() -> None:
    # Plans 000 and 004 each write a prometheus.yml; losing them would hide regressions.
    assert len(BLOCKS) >= 2
    assert {name.split("_")[0] for name, _ in BLOCKS} >= {"000", "004"}


@pytest.mark.parametrize(("name", "text"), BLOCKS, ids=[n for n, _ in BLOCKS])
def test_plan_config_loads(name: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(text, encoding="utf-8")
    cfg = load_config(str(path))
    prom = cfg.prometheus
    assert prom.global_.scrape_interval_ms == 15_000
    assert prom.scrape_configs
    for sc in prom.scrape_configs:
        assert sc.scrape_interval_ms == 15_000
        assert sc.scrape_timeout_ms == 10_000
        assert sc.static_configs and sc.static_configs[0].targets


def test_plan_000_drops_go_metrics() -> None:
    text = dict(BLOCKS)[next(n for n, _ in BLOCKS if n.startswith("000"))]
    (job,) = load_config_text(text, "prometheus.yml").prometheus.scrape_configs
    assert job.job_name == "network-monitor"
    assert len(job.static_configs[0].targets) == 4
    (rule,) = job.metric_relabel_configs
    assert (rule.source_labels, rule.regex, rule.action) == (["__name__"], "go_.*", "drop")


def test_plan_004_external_labels_and_jobs() -> None:
    text = dict(BLOCKS)[next(n for n, _ in BLOCKS if n.startswith("004"))]
    prom = load_config_text(text, "prometheus.yml").prometheus
    assert prom.global_.external_labels == {"cluster": "briefbot", "environment": "development"}
    assert prom.global_.evaluation_interval_ms == 15_000
    assert [sc.job_name for sc in prom.scrape_configs] == [
        "briefbot-backend",
        "postgres",
        "prometheus",
    ]


def test_plan_002_file_sd_services_json(tmp_path: Path) -> None:
    """Plan 002 keeps its targets in targets/services.json next to prometheus.yml."""
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "services.json").write_text(
        '[{"targets": ["crm-service:3000", "auth-service:3001"], "labels": {"env": "prod"}}]'
    )
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 15s\n"
        "scrape_configs:\n"
        "  - job_name: services\n"
        "    file_sd_configs:\n"
        "      - files: ['targets/services.json']\n"
        "    metric_relabel_configs:\n"
        "      - source_labels: [__name__]\n"
        "        regex: 'go_.*'\n"
        "        action: drop\n"
    )
    cfg = load_config(str(tmp_path / "prometheus.yml"))
    (sd,) = cfg.prometheus.scrape_configs[0].file_sd_configs
    assert sd.files == [str(tmp_path / "targets" / "services.json")]
    assert sd.refresh_interval_ms == 300_000

    from tidewatch.config import file_sd_paths, load_file_sd

    (group,) = load_file_sd(file_sd_paths(sd)[0])
    assert group.targets == ["crm-service:3000", "auth-service:3001"]
    assert group.labels["env"] == "prod"


def test_promtool_good_config_loads() -> None:
    cfg = load_config(str(PROMTOOL_DATA / "prometheus-config.good.yml"))
    assert cfg.prometheus.global_.scrape_interval_ms == 60_000
    assert cfg.prometheus.global_.scrape_timeout_ms == 10_000
    assert cfg.prometheus.global_.evaluation_interval_ms == 60_000
    assert cfg.prometheus.scrape_configs == []
    assert cfg.storage.path == "data"
