"""The Grafana dashboard names only metrics the product exports, and names each of them; the
compose stack's Prometheus scrapes the API and every worker, and Grafana loads the dashboard."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

import activities.metrics
import starter.metrics
from infra.settings import REPO_ROOT, Settings

yaml = pytest.importorskip("yaml", reason="PyYAML reads the compose and Prometheus files")

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "journeys.json"
PROMETHEUS = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
COMPOSE = REPO_ROOT / "docker-compose.yml"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def exported() -> set[str]:
    """Every series name the API and the worker expose, from the metric objects themselves."""
    names: set[str] = set()
    for module in (starter.metrics, activities.metrics):
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                for family in value.describe():
                    names.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
    return names


def family(series: str) -> str:
    """The metric a series belongs to: journeys_x_total -> journeys_x, *_bucket/_count/_sum."""
    return re.sub(r"_(total|bucket|count|sum)$", "", series)


def dashboard_names() -> set[str]:
    board: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert exprs, "the dashboard has no queries"
    return {name for e in exprs for name in re.findall(r"\b(journeys_[a-z0-9_]+)\b", e)}


def test_the_dashboard_names_only_exported_metrics() -> None:
    unknown = dashboard_names() - exported()
    assert not unknown, f"the dashboard queries metrics nobody exports: {sorted(unknown)}"


def test_the_dashboard_shows_every_measure_of_the_experience() -> None:
    wanted = {
        "journeys_started_total",
        "journeys_ended_total",
        "journeys_steps_total",
        "journeys_fallbacks_total",
        "journeys_provider_errors_total",
        "journeys_step_lateness_seconds_bucket",
        "journeys_handovers_total",
        "journeys_webhook_refusals_total",
    }
    assert wanted <= exported()
    assert wanted <= dashboard_names()
    families = {family(name) for name in exported()}
    shown = {family(name) for name in dashboard_names()}
    assert families <= shown, f"exported but not on the dashboard: {sorted(families - shown)}"


def tenant_labelled() -> set[str]:
    """The metrics (families) that carry a `tenant` label."""
    return {
        value._name
        for module in (starter.metrics, activities.metrics)
        for value in vars(module).values()
        if isinstance(value, MetricWrapperBase) and "tenant" in value._labelnames
    }


def test_every_tenant_labelled_query_follows_the_tenant_variable() -> None:
    """The dashboard shows the tenants picked in its Tenant variable (all by default) on every
    panel whose metric knows its tenant; the rest (refusals counted before a tenant is known)
    show every tenant's."""
    board: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    (variable,) = [v for v in board["templating"]["list"] if v["name"] == "tenant"]
    assert variable["includeAll"] and variable["multi"] and variable["allValue"] == ".*"
    labelled = tenant_labelled()
    assert {"journeys_started", "journeys_steps", "journeys_ended"} <= labelled
    selectors = [
        (name, selector)
        for p in board["panels"]
        for t in p["targets"]
        for name, selector in re.findall(r"\b(journeys_[a-z0-9_]+)(\{[^}]*\})?", t["expr"])
    ]
    unfiltered = [n for n, sel in selectors if family(n) in labelled and "$tenant" not in sel]
    assert not unfiltered, f"queries that ignore the Tenant variable: {unfiltered}"
    assert any(n == "journeys_started_total" and "$tenant" in sel for n, sel in selectors)


def test_prometheus_scrapes_the_api_and_every_worker() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api_port = Settings(_env_file=None).api_port
    worker_port = Settings(_env_file=None).worker_metrics_port
    assert jobs["journeys-api"]["static_configs"][0]["targets"] == [f"api:{api_port}"]
    dns = jobs["journeys-worker"]["dns_sd_configs"][0]
    assert (dns["names"], dns["port"]) == (["worker"], worker_port)


def test_compose_runs_prometheus_and_grafana_with_these_files() -> None:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert (
        "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
        in (prometheus["volumes"])
    )
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
    provider = yaml.safe_load(
        (REPO_ROOT / "deploy/grafana/provisioning/dashboards/journeys.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = yaml.safe_load(
        (REPO_ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    uids = {t["datasource"]["uid"] for p in board["panels"] for t in p["targets"]}
    assert uids == {datasource["uid"]}
    assert datasource["url"] == "http://prometheus:9090"
    # the worker container listens on all addresses so that Prometheus can reach it
    env = (REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    assert "WORKER_METRICS_HOST=0.0.0.0" in env.splitlines()
