"""The Helm chart: its values are checked by their schema, its manifests by Kubernetes'."""

import copy
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.helpers.helm_render import Chart

CHART = Path(__file__).resolve().parents[2] / "helm" / "opsn"
KUBERNETES = "1.31.0"


def values(**changes) -> dict:
    """values.yaml with what every operator must add (ci/production-values.yaml)."""
    data = yaml.safe_load((CHART / "values.yaml").read_text())
    for key, given in yaml.safe_load((CHART / "ci" / "production-values.yaml").read_text()).items():
        data[key] = {**data[key], **given} if isinstance(given, dict) else given
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split("__")
        for key in path:
            target = target[key]
        target[last] = value
    return data


def schema() -> dict:
    return json.loads((CHART / "values.schema.json").read_text())


def test_the_default_values_follow_their_schema():
    jsonschema.validate(values(), schema())


@pytest.mark.parametrize("changes, message", [
    ({"baseDomain": "Not A Domain"}, "does not match"),
    ({"web__replicas": 0}, "less than the minimum"),
    ({"web__autoscaling__targetCPUUtilizationPercentage": 150}, "greater than the maximum"),
    ({"secrets__existingSecret": ""}, "should be non-empty"),
    ({"databasePassword": "hunter2"}, "Additional properties are not allowed"),
])
def test_bad_values_are_refused_by_the_schema(changes, message):
    with pytest.raises(jsonschema.ValidationError, match=message):
        jsonschema.validate(values(**changes), schema())


def manifests(**changes) -> list[dict]:
    return Chart(CHART, values(**changes)).manifests()


def test_every_manifest_is_valid_kubernetes():
    docs = manifests(serviceMonitor__enabled=True)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["Deployment", "Deployment", "Deployment", "HorizontalPodAutoscaler",
                     "Ingress", "Job", "NetworkPolicy", "NetworkPolicy",
                     "PodDisruptionBudget", "Service", "ServiceMonitor"]
    for doc in docs:
        if doc["kind"] == "ServiceMonitor":  # a CRD: not in Kubernetes' own schemas
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            assert doc["spec"]["endpoints"][0]["path"] == "/metrics"
            continue
        kubernetes_validate.validate(copy.deepcopy(doc), KUBERNETES, strict=True)


def test_migrations_run_before_each_install_and_upgrade():
    job = next(d for d in manifests() if d["kind"] == "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "opsn", "migrate_communes", "--workers", "4"]


def test_the_ingress_takes_every_commune_subdomain_and_custom_domains():
    ingress = next(d for d in manifests(customDomains=["paiements.venissieux.fr"])
                   if d["kind"] == "Ingress")
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == ["console.opsn.example.fr", "*.opsn.example.fr", "paiements.venissieux.fr"]
    assert ingress["spec"]["tls"][0]["hosts"] == hosts


def test_secrets_are_referenced_never_written():
    web = next(d for d in manifests() if d["kind"] == "Deployment"
               and d["metadata"]["name"] == "opsn-web")
    env = {e["name"]: e for e in web["spec"]["template"]["spec"]["containers"][0]["env"]}
    for name in ("SECRET_KEY", "DATABASE_URL", "OPSN_BROKER_URL"):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "opsn-secrets"
    probes = web["spec"]["template"]["spec"]["containers"][0]
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_optional_parts_can_be_switched_off():
    kinds = [d["kind"] for d in manifests(ingress__enabled=False, networkPolicy__enabled=False,
                                          scheduler__enabled=False,
                                          web__autoscaling__enabled=False)]
    assert sorted(kinds) == ["Deployment", "Deployment", "Job", "PodDisruptionBudget",
                             "Service"]
