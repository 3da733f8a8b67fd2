"""ops/deploy/, checked offline: the Kubernetes manifests against the Kubernetes JSON schemas (kubernetes-validate,
strict: unknown fields fail), the HAProxy config with ``haproxy -c``, Prometheus with ``promtool``, and the compose
file's structure (Docker is not run here). Across files: names, labels, ports, probes, metrics and settings agree."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic_settings import BaseSettings

from gateway.observability.metrics import REGISTRY
from gateway.settings import Settings
from ops.deploy.local import render_haproxy

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "ops" / "deploy"
K8S = DEPLOY / "k8s"
K8S_VERSIONS = ["1.29.0", "1.33.0"]  #: an older and a recent cluster


def settings_env_names() -> set[str]:
    """Every environment variable the settings read (group prefixes, plus the vendors' key aliases)."""
    names = set()

    def add(model: type[BaseSettings], prefix: str) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
                add(annotation, annotation.model_config.get("env_prefix", ""))
                continue
            names.add((prefix + name).upper())
            alias = field.validation_alias
            names.update(a.upper() for a in getattr(alias, "choices", []) if isinstance(a, str) and a.isupper())

    add(Settings, Settings.model_config["env_prefix"])
    return names


def k8s_docs() -> list[tuple[str, dict]]:
    return [(path.name, doc) for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def k8s(kind: str, name: str) -> dict:
    found = [doc for _, doc in k8s_docs() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}"
    return found[0]


def metric_names() -> set[str]:
    return {metric.name for metric in REGISTRY.collect()}


# -- Kubernetes ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_validate_against_the_kubernetes_schemas(version):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    docs = k8s_docs()
    assert {doc["kind"] for _, doc in docs} >= {"Deployment", "Service", "HorizontalPodAutoscaler",
                                                "PodDisruptionBudget", "ConfigMap"}
    for name, doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    broken = copy.deepcopy(k8s("Deployment", "mouthpiece-gateway"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):  # the validator really looks (strict: typos fail)
        kubernetes_validate.validate(broken, version, strict=True)


def test_kustomization_lists_every_manifest():
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def test_services_hpa_and_pdbs_select_real_pods():
    deployments = {doc["metadata"]["name"]: doc for _, doc in k8s_docs() if doc["kind"] == "Deployment"}
    for _, doc in k8s_docs():
        if doc["kind"] == "Service":
            selector = doc["spec"]["selector"]
        elif doc["kind"] == "PodDisruptionBudget":
            selector = doc["spec"]["selector"]["matchLabels"]
        else:
            continue
        pods = [d for d in deployments.values()
                if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert pods, f"{doc['kind']}/{doc['metadata']['name']} selects no pods"
        if doc["kind"] == "Service":
            ports = {p["name"] for c in pods[0]["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
            assert all(p["targetPort"] in ports for p in doc["spec"]["ports"])
    for name, d in deployments.items():
        assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
    hpa = k8s("HorizontalPodAutoscaler", "mouthpiece-gateway")
    assert hpa["spec"]["scaleTargetRef"]["name"] in deployments and hpa["spec"]["minReplicas"] >= 2


def test_gateway_pods_probe_readiness_and_outlast_their_drain():
    config = k8s("ConfigMap", "mouthpiece-config")["data"]
    spec = k8s("Deployment", "mouthpiece-gateway")["spec"]
    pod = spec["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/health/live"
    assert container["ports"][0]["containerPort"] == int(config["GATEWAY_PORT"])
    assert pod["terminationGracePeriodSeconds"] > float(config["GATEWAY_DRAIN_DELAY_S"]) + float(
        config["GATEWAY_DRAIN_TIMEOUT_S"])
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    redis_service = k8s("Service", "mouthpiece-redis")["metadata"]["name"]
    assert f"//{redis_service}:6379/" in config["GATEWAY_REDIS_URL"]
    worker_args = " ".join(k8s("Deployment", "mouthpiece-render-worker")["spec"]["template"]["spec"]
                           ["containers"][0]["args"])
    assert config["GATEWAY_VIDEO_REDIS_URL"] in worker_args


def test_autoscaling_reads_a_metric_the_gateway_exports():
    hpa = k8s("HorizontalPodAutoscaler", "mouthpiece-gateway")
    pods_metrics = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert pods_metrics and set(pods_metrics) <= metric_names()
    rules = yaml.safe_load(k8s("ConfigMap", "mouthpiece-adapter-config")["data"]["config.yaml"])["rules"]
    assert {rule["name"]["as"] for rule in rules} >= set(pods_metrics)


def test_every_setting_named_in_the_deployment_exists():
    known = settings_env_names()
    assert {"GATEWAY_REDIS_URL", "GATEWAY_MEDIA_S3_BUCKET", "ELEVENLABS_API_KEY", "GATEWAY_WORKERS"} <= known
    named = set(k8s("ConfigMap", "mouthpiece-config")["data"])
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    named |= set(compose["x-gateway-env"])
    for path in [DEPLOY / "local.py", ROOT / "bench" / "bench_scale.py"]:
        named |= set(re.findall(r'"(GATEWAY_[A-Z0-9_]+)"', path.read_text()))
    assert named - known == set()


# -- compose ---------------------------------------------------------------------------------------------------------
def test_compose_file_structure_and_references():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "gateway", "render-worker", "haproxy", "prometheus", "grafana"}
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        depends = service.get("depends_on", {})
        assert set(depends) <= set(services), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (DEPLOY / source).exists(), f"{name}: {source}"
    build = services["gateway"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
    assert services["render-worker"]["image"] == services["gateway"]["image"]
    gateway = services["gateway"]
    assert "/api/health/ready" in " ".join(gateway["healthcheck"]["test"])
    grace = int(gateway["stop_grace_period"].rstrip("s"))
    env = gateway["environment"]
    assert grace > float(env["GATEWAY_DRAIN_DELAY_S"]) + float(env["GATEWAY_DRAIN_TIMEOUT_S"])
    assert env["GATEWAY_REDIS_URL"].startswith("redis://redis:")
    haproxy_cfg = (DEPLOY / "haproxy.cfg").read_text()
    target = re.search(r"server-template \S+ \S+ (\S+):(\d+)", haproxy_cfg)
    assert target and target.group(1) == "gateway" and target.group(2) == env["GATEWAY_PORT"]
    published = {p.split(":")[0] for p in services["haproxy"]["ports"]}
    assert {m for m in re.findall(r"bind :(\d+)", haproxy_cfg)} == published
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    dns_names = {n for job in prometheus["scrape_configs"] for sd in job.get("dns_sd_configs", []) for n in sd["names"]}
    assert dns_names <= set(services)
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_dockerfile_copies_what_exists():
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


# -- HAProxy and Prometheus, checked by their own tools ---------------------------------------------------------------
@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy (Debian package) not installed")
def test_haproxy_accepts_the_reference_and_the_local_config(tmp_path):
    reference = DEPLOY / "haproxy.cfg"
    result = subprocess.run(["haproxy", "-c", "-f", str(reference)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    local = tmp_path / "local.cfg"
    local.write_text(render_haproxy(reference.read_text(), ["127.0.0.1:9001", "127.0.0.1:9002"], "127.0.0.1:9000",
                                    "127.0.0.1:9003"))
    text = local.read_text()
    assert "server gateway1 127.0.0.1:9001 check" in text and "    server-template" not in text
    assert "resolvers docker" not in text and "bind 127.0.0.1:9000" in text and "retry-on" in text
    result = subprocess.run(["haproxy", "-c", "-f", str(local)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_promtool_accepts_the_deployment_prometheus_config(tmp_path):
    shutil.copy(DEPLOY / "prometheus.yml", tmp_path / "prometheus.yml")  # laid out as compose.yaml mounts them
    shutil.copy(ROOT / "ops" / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    result = subprocess.run(["promtool", "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
