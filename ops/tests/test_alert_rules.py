"""The alert rules and the sample Prometheus configuration, checked by the real promtool.

Under CI=true a missing promtool fails (Debian's `prometheus` package, installed by .ci/run).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import require_service

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    require_service("promtool", path is not None, "apt-get install prometheus")
    return str(path)


def run(promtool: str, *args: str, cwd: Path = PROMETHEUS_DIR) -> str:
    result = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_rules_are_valid(promtool):
    assert "SUCCESS: 9 rules found" in run(promtool, "check", "rules", "alerts.yml")


def test_every_rule_fires_and_stays_quiet_as_its_unit_tests_say(promtool):
    assert "SUCCESS" in run(promtool, "test", "rules", "alerts.test.yml")


def test_every_rule_has_a_summary_and_a_runbook_line_and_a_test():
    import yaml

    rules = [
        rule
        for group in yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    quiet = {case["alertname"] for test in tests for case in test["alert_rule_test"] if not case["exp_alerts"]}
    readme = (PROMETHEUS_DIR.parents[1] / "README.md").read_text()
    for rule in rules:
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["runbook"] == f"README.md#operations — {rule['alert']}"
        assert f"`{rule['alert']}`" in readme, f"README's Operations section does not explain {rule['alert']}"
        assert rule["alert"] in tested and rule["alert"] in quiet, f"{rule['alert']} lacks a firing or a quiet case"


def test_the_sample_configuration_scrapes_the_procfile_processes(promtool, tmp_path):
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(PROMETHEUS_DIR / name, tmp_path / name)
    (tmp_path / "elite-metrics-token").write_text("token\n")
    assert "SUCCESS" in run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    import yaml

    jobs = {
        job["job_name"] for job in yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())["scrape_configs"]
    }
    procfile = (PROMETHEUS_DIR.parents[1] / "Procfile").read_text()
    processes = {line.split(":", 1)[0] for line in procfile.splitlines() if line and not line.startswith("#")}
    assert jobs == {"web", "ws", "worker"} and jobs <= processes
