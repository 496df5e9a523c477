"""The Grafana dashboard: well-formed panels whose queries parse and name metrics we really export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram

from conftest import require_service
from core import metrics

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "elite.json").read_text())
SECTIONS = {"Traffic", "Errors", "Latency", "Money flow", "Webhooks", "Queues", "Sockets"}


def exported_names() -> set[str]:
    """Every sample name a scrape can show: core.metrics' families and the scrape-time collectors'."""
    names = {"up"}
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif isinstance(value, Histogram):
            names.update(f"{value._name}_{suffix}" for suffix in ("bucket", "count", "sum"))
        elif isinstance(value, Gauge):
            names.add(value._name)
    source = (ROOT / "ops" / "collectors.py").read_text()
    names.update(re.findall(r'GaugeMetricFamily\(\s*"([a-z_]+)"', source))
    return names


def panels() -> list[dict]:
    return [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]


def expressions() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def test_the_dashboard_is_well_formed():
    assert DASHBOARD["uid"] and DASHBOARD["title"] and isinstance(DASHBOARD["schemaVersion"], int)
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in DASHBOARD["panels"]:
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y"))
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["type"] in {"row", "timeseries", "stat"}
    for panel in panels():
        assert panel["targets"], f"{panel['title']} has no query"
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        assert panel["datasource"]["uid"] == "${datasource}"


def test_the_dashboard_has_every_section():
    assert {panel["title"] for panel in DASHBOARD["panels"] if panel["type"] == "row"} >= SECTIONS


def test_every_query_names_only_metrics_that_exist():
    known = exported_names()
    for expr in expressions():
        used = set(re.findall(r"\b(elite_[a-z0-9_]+|up)\b", expr))
        assert used, f"no metric in {expr}"
        assert used <= known, f"{expr}: unknown {used - known}"


def test_every_metric_family_is_on_the_dashboard():
    shown = {
        name
        for expr in expressions()
        for name in re.findall(r"\belite_[a-z_]+?(?=_bucket|_sum|_count|_total\b|\b)", expr)
    }
    families = {value._name for value in vars(metrics).values() if isinstance(value, Counter | Gauge | Histogram)}
    families -= {"elite_celery_task_duration_seconds"}  # in Prometheus for ad-hoc questions, not a panel
    assert families <= shown, f"not on the dashboard: {families - shown}"


def test_every_query_parses(tmp_path):
    """promtool parses PromQL when it checks rules: each query becomes a recording rule."""
    promtool = shutil.which("promtool")
    require_service("promtool", promtool is not None, "apt-get install prometheus")
    rules = [{"record": f"dashboard:query_{index}", "expr": expr} for index, expr in enumerate(expressions())]
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [str(promtool), "check", "rules", "queries.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_each_section_has_panels(section):
    rows = [panel for panel in DASHBOARD["panels"] if panel["type"] == "row"]
    start = next(row["gridPos"]["y"] for row in rows if row["title"] == section)
    later = [row["gridPos"]["y"] for row in rows if row["gridPos"]["y"] > start]
    end = min(later) if later else 10**6
    assert any(start < panel["gridPos"]["y"] < end for panel in panels())
