"""The chart deploys production only: Keycloak, PayFiP, every secret by reference; values
the operator must give are required by the schema; and `opsn check --deploy`, run with the
environment the chart sets, passes — and names the variable when a secret is missing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.helpers.helm_render import Chart

CHART = Path(__file__).resolve().parents[2] / "helm" / "opsn"
# The keys of the Secret (secrets.existingSecret) a production pod cannot do without.
REQUIRED_SECRETS = ("SECRET_KEY", "DATABASE_URL", "OPSN_BROKER_URL", "EMAIL_URL",
                    "OPSN_OIDC_CLIENT_SECRET", "OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET",
                    "OPSN_METRICS_TOKEN")
SECRET_VALUES = {
    "SECRET_KEY": "kZ3v9-q8Lr2mWx7tN4pB6yHc1sDf5gJ0aE8uR3iO7wQ2zX6nV9",
    "DATABASE_URL": "postgres://opsn:secret@db.internal.example:5432/opsn",
    "OPSN_BROKER_URL": "amqp://opsn:secret@rabbitmq.internal.example:5672/",
    "EMAIL_URL": "smtp+tls://opsn:secret@smtp.example.fr:587",
    "OPSN_OIDC_CLIENT_SECRET": "6f1c2b9e0a7d4c3b8e5f2a1d9c7b4e3f",
    "OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET": "0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a",
    "OPSN_METRICS_TOKEN": "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f",
}


def defaults() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def production_values(**top) -> dict:
    data = defaults()
    for key, given in yaml.safe_load((CHART / "ci" / "production-values.yaml")
                                     .read_text()).items():
        data[key] = {**data[key], **given} if isinstance(given, dict) else given
    data.update(top)
    return data


def schema() -> dict:
    return json.loads((CHART / "values.schema.json").read_text())


def containers(values: dict) -> dict[str, dict]:
    found = {}
    for doc in Chart(CHART, values).manifests():
        if doc["kind"] in ("Deployment", "Job"):
            for container in doc["spec"]["template"]["spec"]["containers"]:
                found[doc["metadata"]["name"]] = container
    return found


def test_the_defaults_alone_are_refused_until_the_operator_gives_its_own():
    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(defaults()),
                    key=lambda e: list(e.absolute_path))
    wrong = {".".join(map(str, e.absolute_path)) for e in errors}
    assert wrong == {"identity.issuer", "identity.keycloak.serverUrl", "operator.name",
                     "operator.email", "operator.phone", "operator.siren",
                     "operator.address", "operator.postcode", "operator.city",
                     "operator.iban", "operator.vatNumber", "ingress.trustedProxies"}
    jsonschema.validate(production_values(), schema())


@pytest.mark.parametrize("path, value", [
    ("identity.issuer", "http://sso.opsn.example.fr/realms/opsn"),
    ("identity.keycloak.serverUrl", "sso.opsn.example.fr"),
    ("operator.siren", "25690099"),
    ("operator.iban", "not an iban"),
    ("operator.vatNumber", "200046977"),
    ("ingress.trustedProxies", "ingress-nginx"),
    ("ingress.trustedProxies", "10.244.0.0/16; 10.0.0.1"),
])
def test_production_values_are_checked_by_the_schema(path, value):
    values = production_values()
    *parents, last = path.split(".")
    target = values
    for key in parents:
        target = target[key]
    target[last] = value
    with pytest.raises(jsonschema.ValidationError, match="does not match"):
        jsonschema.validate(values, schema())


def test_a_chart_rendered_with_production_values_has_no_local_provider():
    values = production_values()
    text = yaml.safe_dump(Chart(CHART, values).manifests())
    for demo in ("local-provider-demo-secret", "LocalProvisioning", "payfip-local",
                 "connexion.", "localhost", "insecure-development-key"):
        assert demo not in text
    for name, container in containers(values).items():
        env = {e["name"]: e for e in container["env"]}
        assert env["OPSN_ENVIRONMENT"]["value"] == "production", name
        assert env["OPSN_IDP"]["value"] == "keycloak", name
        assert env["OPSN_PAYFIP"]["value"] == "payfip", name
        assert env["OPSN_OIDC_ISSUER"]["value"] == "https://sso.opsn.example.fr/realms/opsn"
        # X-Forwarded-For is believed from the ingress controller's pods only.
        assert env["OPSN_TRUSTED_PROXIES"]["value"] == "10.244.0.0/16"
        assert "OPSN_IDENTITY_PROVISIONING" not in env
        assert "DEBUG" not in env
        for key in REQUIRED_SECRETS:  # by reference, and the pod waits for the key
            reference = env[key]["valueFrom"]["secretKeyRef"]
            assert reference == {"name": "opsn-secrets", "key": key}, (name, key)
            assert "value" not in env[key]
        for key in ("SENTRY_DSN", "OPSN_COMMUNE_DATABASES"):
            assert env[key]["valueFrom"]["secretKeyRef"]["optional"] is True


def test_extra_environment_reaches_every_container_but_cannot_override_the_chart():
    extra = [{"name": "OPSN_SCHEMA_POOL_SIZE", "value": "4"},
             {"name": "HTTPS_PROXY",
              "valueFrom": {"configMapKeyRef": {"name": "proxy", "key": "url"}}}]
    values = production_values(extraEnv=extra)
    jsonschema.validate(values, schema())
    for name, container in containers(values).items():
        assert [e for e in container["env"] if e in extra] == extra, name
    for name in ("OPSN_IDP", "OPSN_PAYFIP", "OPSN_ENVIRONMENT", "SECRET_KEY"):
        with pytest.raises(jsonschema.ValidationError, match="should not be valid"):
            jsonschema.validate(production_values(extraEnv=[{"name": name, "value": "x"}]),
                                schema())
    # Every variable the chart sets is in the schema's list of those extraEnv may not set.
    refused = set(schema()["properties"]["extraEnv"]["items"]["properties"]["name"]["not"]
                  ["enum"])
    web = containers(production_values())["opsn-web"]
    assert {e["name"] for e in web["env"]} == refused


def test_the_service_monitor_sends_the_metrics_token():
    docs = Chart(CHART, production_values(serviceMonitor={"enabled": True})).manifests()
    monitor = next(d for d in docs if d["kind"] == "ServiceMonitor")
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["authorization"] == {
        "type": "Bearer", "credentials": {"name": "opsn-secrets", "key": "OPSN_METRICS_TOKEN"}}


def check_deploy(tmp_path, *, missing: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`opsn check --deploy` in a fresh process with exactly the web container's environment
    (each secret key given a value, but ``missing``); the pod's volumes are folders here."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    volumes = {"/var/lib/opsn": tmp_path / "data", "/tmp/metrics": tmp_path / "metrics"}  # noqa: S108
    for item in containers(production_values())["opsn-web"]["env"]:
        if "value" in item:
            env[item["name"]] = str(volumes.get(item["value"], item["value"]))
        elif item["valueFrom"]["secretKeyRef"]["key"] in SECRET_VALUES:
            env[item["name"]] = SECRET_VALUES[item["valueFrom"]["secretKeyRef"]["key"]]
    for name in missing:
        env.pop(name)
    (tmp_path / "metrics").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "opsn.cli", "check", "--deploy"], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_check_deploy_passes_with_the_charts_environment(tmp_path):
    done = check_deploy(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "opsn.E" not in done.stdout + done.stderr
    assert not (tmp_path / "data" / "pg").exists()  # no embedded database was started


def test_check_deploy_fails_naming_the_secret_that_is_missing(tmp_path):
    done = check_deploy(tmp_path, missing=("OPSN_METRICS_TOKEN",))
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "(opsn.E" in line]
    assert len(errors) == 1
    assert "(opsn.E010) OPSN_METRICS_TOKEN manque" in errors[0]


def test_check_deploy_names_every_missing_secret_at_once(tmp_path):
    done = check_deploy(tmp_path, missing=REQUIRED_SECRETS)
    assert done.returncode == 1
    errors = "\n".join(line for line in done.stderr.splitlines() if "(opsn.E" in line)
    for name in REQUIRED_SECRETS:
        assert f") {name} " in errors, name
    assert not (tmp_path / "data" / "pg").exists()
