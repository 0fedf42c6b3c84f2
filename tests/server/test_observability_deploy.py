"""deploy/: the Grafana dashboard and the Prometheus alert rules use only metrics the server exposes (the
catalogue of authserver.telemetry.metrics, the event counters the code emits, the scrape-time gauges),
the rules parse (and pass promtool where it is installed), and each alert has its runbook entry."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from authserver.telemetry import metrics

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "authserver.json"
OPERATIONS = ROOT / "docs" / "operations.md"
NAME = re.compile(r"\bauthserver_[a-z0-9_]+\b")
EVENT = re.compile(r"""\b(?:emit|count)\(\s*"([a-z_]+\.[a-z_]+)\"""")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exposed() -> set[str]:
    """Every sample name the server's /metrics can carry."""
    names = set(metrics.SCRAPE_TIME)
    for family in metrics.REGISTRY.collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    for source in (ROOT / "authserver").rglob("*.py"):
        for event in EVENT.findall(source.read_text()):
            names.add(f"authserver_{event.replace('.', '_')}_total")
    return names


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    return [target["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for target in panel["targets"]]


def test_the_catalogue_has_the_documented_metrics():
    for name in (
        "authserver_http_request_duration_seconds_bucket",
        "authserver_tokens_issued_total",
        "authserver_refresh_reuse_detected_total",
        "authserver_login_failures_total",
        "authserver_password_hash_seconds_count",
        "authserver_signing_key_age_seconds",
        "authserver_db_pool_checked_out",
        "authserver_build_info",
        "authserver_login_failed_total",  # an event counter, as before
    ):
        assert name in exposed(), name


@pytest.mark.parametrize("where", ["alerts", "dashboard"])
def test_every_metric_used_in_deploy_exists(where):
    exprs = [rule["expr"] for rule in alert_rules()] if where == "alerts" else dashboard_exprs()
    assert exprs
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used and used <= exposed(), sorted(used - exposed())


def test_every_metric_of_the_catalogue_is_documented():
    text = OPERATIONS.read_text()
    documented = set(NAME.findall(text))
    for metric in metrics.CATALOGUE:
        family = next(iter(metric.collect()))
        assert any(name.startswith(family.name) for name in documented), family.name
    for name in metrics.SCRAPE_TIME:
        assert name in documented, name


def test_every_alert_has_its_runbook_entry():
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in OPERATIONS.read_text().splitlines()
        if line.startswith("#")
    }
    rules = alert_rules()
    assert {"AuthserverHigh5xxRate", "AuthserverRefreshReuseSpike", "AuthserverSigningKeyTooOld"} <= {
        rule["alert"] for rule in rules
    }
    for rule in rules:
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor == rule["alert"].lower() and anchor in headings, rule["alert"]


def test_the_alert_rules_pass_promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    done = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_scrape_carries_the_scrape_time_gauges(management):
    text = management.get("/metrics").get_data(as_text=True)
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if not line.startswith("#")}
    assert set(metrics.SCRAPE_TIME) <= names, sorted(set(metrics.SCRAPE_TIME) - names)
