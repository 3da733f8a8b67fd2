"""ops/ assets: Prometheus rules (promtool), the Grafana dashboard, the OpenTelemetry collector config, the runbook.

The promtool checks need ``promtool`` (Debian: ``apt-get install prometheus``); without it they skip, saying so.
Everything else runs everywhere.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROM_DIR = ROOT / "ops" / "prometheus"
ALERTS = PROM_DIR / "alerts.yml"
ALERTS_TEST = PROM_DIR / "alerts_test.yml"
PROM_CONFIG = PROM_DIR / "prometheus.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "mouthpiece.json"
COLLECTOR = ROOT / "ops" / "otel" / "collector.yaml"
RUNBOOK = ROOT / "docs" / "runbook.md"

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not installed: `apt-get install -y prometheus` (Debian) to check the alert rules")

#: Metrics the gateway exports (exposition names) that may not be registered yet in a given checkout.
#: Kept so the dashboard and rules can be checked while they land; registered names are read from the registries.
EXPECTED_METRICS = {
    "mouthpiece_provider_quota_used_ratio",
    "mouthpiece_provider_latency_seconds",
    "mouthpiece_provider_error_ratio",
    "mouthpiece_video_pool_healthy",
    "mouthpiece_redis_up",
    "mouthpiece_retry_budget_exhausted_total",
    "mouthpiece_rate_limited_total",
    "mouthpiece_admin_actions_total",
}
#: Metrics from Prometheus itself the rules may use.
PROMETHEUS_METRICS = {"up"}
#: Grafana template variables, replaced before PromQL is checked.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$instance": ".*"}

METRIC_RE = re.compile(r"\bmouthpiece[_:][A-Za-z0-9_:]*")
IDENT_RE = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "unknown": ("",),
}


def exported_metrics() -> set[str]:
    """Every sample name the gateway's registry can expose (video pool metrics included)."""
    from gateway.observability.metrics import REGISTRY
    from gateway.video import metrics as video_metrics  # noqa: F401 - registers the video pool's metrics

    names = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names


@pytest.fixture(scope="module")
def known_metrics() -> set[str]:
    return exported_metrics() | EXPECTED_METRICS


def load_rules() -> dict:
    return yaml.safe_load(ALERTS.read_text())


def alert_rules() -> list[dict]:
    return [r for g in load_rules()["groups"] for r in g["rules"] if "alert" in r]


def recorded_names() -> set[str]:
    return {r["record"] for g in load_rules()["groups"] for r in g["rules"] if "record" in r}


def promtool(*args: str, cwd: Path = PROM_DIR) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


# ---- Prometheus ---------------------------------------------------------------------------------------------------
@needs_promtool
def test_promtool_check_rules():
    result = promtool("check", "rules", ALERTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_test_rules():
    result = promtool("test", "rules", ALERTS_TEST.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_check_config():
    result = promtool("check", "config", PROM_CONFIG.name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_cover_the_seed_thresholds():
    rules = {r["alert"]: r for r in alert_rules()}
    expected = {
        "MouthpieceFirstAudioSlow": "> 5", "MouthpieceFirstAudioCritical": "> 15",
        "MouthpieceStreamingFirstAudioSlow": "> 1.5", "MouthpieceStreamingFirstAudioCritical": "> 4",
        "MouthpieceProviderErrorRateHigh": "> 0.05", "MouthpieceProviderErrorRateCritical": "> 0.2",
        "MouthpieceProviderQuotaHigh": "> 0.8", "MouthpieceBreakerOpen": "mouthpiece_breaker_state",
        "MouthpieceAllTTSDown": "degraded-3", "MouthpieceDegraded": 'level!="normal"',
        "MouthpieceVideoPoolUnhealthy": "mouthpiece_video_pool_healthy == 0",
        "MouthpieceRedisDown": "mouthpiece_redis_up == 0",
        "MouthpieceRetryBudgetExhausted": "mouthpiece_retry_budget_exhausted_total",
    }
    for name, needle in expected.items():
        assert name in rules, f"missing alert {name}"
        assert needle in rules[name]["expr"], f"{name}: expected {needle!r} in its expression"
    for rule in rules.values():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]


def test_rules_reference_only_exported_metrics(known_metrics):
    allowed = known_metrics | recorded_names()
    for group in load_rules()["groups"]:
        for rule in group["rules"]:
            names = set(METRIC_RE.findall(rule["expr"]))
            unknown = names - allowed
            assert not unknown, f"{rule.get('alert') or rule.get('record')}: unknown metrics {sorted(unknown)}"
            bare = {m for m in IDENT_RE.findall(_strip_strings(rule["expr"])) if m in PROMETHEUS_METRICS}
            assert names or bare, f"{rule.get('alert') or rule.get('record')} reads no metric"


def test_every_alert_has_firing_and_silent_unit_tests():
    tests = yaml.safe_load(ALERTS_TEST.read_text())
    assert tests["rule_files"] == [ALERTS.name]
    fires, silent = set(), set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {r["alert"] for r in alert_rules()}
    assert names - fires == set(), f"alerts never tested firing: {sorted(names - fires)}"
    assert names - silent == set(), f"alerts never tested silent: {sorted(names - silent)}"


def test_runbook_has_a_section_per_alert():
    text = RUNBOOK.read_text()
    headings = re.findall(r"^## (\S+)\s*$", text, flags=re.M)
    sections = dict(zip(headings, re.split(r"^## \S+\s*$", text, flags=re.M)[1:]))
    for rule in alert_rules():
        name = rule["alert"]
        assert name in sections, f"docs/runbook.md has no section '## {name}'"
        assert rule["annotations"]["runbook_url"] == f"docs/runbook.md#{name.lower()}"
        for part in ("**Means.**", "**Check.**", "**Do.**"):
            assert part in sections[name], f"runbook section {name} lacks {part}"
    for anchor in re.findall(r"\]\(#([a-z0-9-]+)\)", text):
        assert anchor in {h.lower() for h in headings}, f"runbook links to a missing section #{anchor}"


# ---- Grafana --------------------------------------------------------------------------------------------------------
def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(dashboard: dict) -> list[dict]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows keep their panels inside
    return out


def dashboard_exprs(dashboard: dict) -> list[tuple[str, str]]:
    exprs = [(p["title"], t["expr"]) for p in all_panels(dashboard) for t in p.get("targets", [])]
    exprs += [(a["name"], a["expr"]) for a in dashboard.get("annotations", {}).get("list", []) if "expr" in a]
    return exprs


def _strip_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def test_dashboard_structure():
    dash = load_dashboard()
    assert dash["title"] and dash["uid"] and isinstance(dash["schemaVersion"], int)
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = all_panels(dash)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    occupied: set[tuple[int, int]] = set()
    for p in panels:
        assert p["type"] and p["title"], p
        pos = p["gridPos"]
        assert all(isinstance(pos[k], int) for k in ("h", "w", "x", "y")), p["title"]
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, p["title"]
        cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not cells & occupied, f"panel {p['title']!r} overlaps another"
        occupied |= cells
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        targets = p["targets"]
        assert targets, f"panel {p['title']!r} has no query"
        assert len({t["refId"] for t in targets}) == len(targets), p["title"]
        for t in targets:
            assert t["expr"].strip() and t["datasource"]["uid"] == "${datasource}", p["title"]


def test_dashboard_references_only_exported_metrics(known_metrics):
    for title, expr in dashboard_exprs(load_dashboard()):
        names = set(METRIC_RE.findall(expr))
        assert names, f"{title}: query reads no mouthpiece metric: {expr}"
        unknown = names - known_metrics
        assert not unknown, f"{title}: unknown metrics {sorted(unknown)} in {expr}"


def test_dashboard_covers_the_gateway():
    used = {m for _, e in dashboard_exprs(load_dashboard()) for m in METRIC_RE.findall(e)}
    for metric in ("mouthpiece_requests_total", "mouthpiece_provider_attempts_total",
                   "mouthpiece_degradation_level", "mouthpiece_time_to_first_audio_seconds_bucket",
                   "mouthpiece_provider_latency_seconds", "mouthpiece_provider_error_ratio",
                   "mouthpiece_fallbacks_total", "mouthpiece_retries_total", "mouthpiece_breaker_state",
                   "mouthpiece_cache_lookups_total", "mouthpiece_video_pool_healthy", "mouthpiece_video_workers",
                   "mouthpiece_video_renders_total", "mouthpiece_provider_quota_used_ratio",
                   "mouthpiece_rate_limited_total", "mouthpiece_redis_up", "mouthpiece_retry_budget_exhausted_total",
                   "mouthpiece_process_resident_memory_bytes", "mouthpiece_process_cpu_seconds_total",
                   "mouthpiece_process_open_fds", "mouthpiece_process_threads",
                   "mouthpiece_event_loop_lag_seconds_bucket", "mouthpiece_event_loop_lag_max_seconds"):
        assert metric in used, f"dashboard shows nothing of {metric}"


@needs_promtool
def test_dashboard_queries_are_valid_promql(tmp_path):
    rules = []
    for i, (_, expr) in enumerate(dashboard_exprs(load_dashboard())):
        for var, value in GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        assert "$" not in expr, f"unhandled Grafana variable in {expr}"
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- OpenTelemetry collector ------------------------------------------------------------------------------------------
def test_collector_config():
    config = yaml.safe_load(COLLECTOR.read_text())
    http = config["receivers"]["otlp"]["protocols"]["http"]
    assert http["endpoint"].endswith(":4318")
    exporters = config["exporters"]
    assert "debug" in exporters
    backend = [name for name in exporters if name.split("/")[0] in {"otlp", "otlphttp"}]
    assert backend, "no OTLP backend exporter"
    service = config["service"]
    for ext in service.get("extensions", []):
        assert ext in config.get("extensions", {}), f"extension {ext} not defined"
    traces = service["pipelines"]["traces"]
    assert "otlp" in traces["receivers"] and "debug" in traces["exporters"]
    assert set(backend) & set(traces["exporters"])
    for kind in ("receivers", "processors", "exporters"):
        defined = set(config.get(kind) or {})
        used = {c for pipeline in service["pipelines"].values() for c in pipeline.get(kind, [])}
        assert used <= defined, f"{kind} used but not defined: {sorted(used - defined)}"
        assert defined <= used, f"{kind} defined but unused: {sorted(defined - used)}"
    for pipeline in service["pipelines"].values():
        if "memory_limiter" in pipeline.get("processors", []):
            assert pipeline["processors"][0] == "memory_limiter"
