"""Production refuses to start on the demo's values: ``opsn check --deploy`` names each
variable at fault, all at once, and every entry point runs the same check before it starts.
Development (the demo, the tests) is untouched."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from opsn.communes.management.commands import migrate_communes as migrate_command
from opsn.jobs.management.commands import scheduler as scheduler_command
from opsn.jobs.management.commands import worker as worker_command
from opsn.kernel import production
from opsn.kernel.production import (
    DEMO_OIDC_CLIENT_SECRET,
    DEMO_OPERATOR,
    DEVELOPMENT_SECRET_KEY,
    KEYCLOAK_PROVISIONING,
    LOCAL_PROVISIONING,
    demo_values,
    refuse_demo_values_to_serve,
)
from opsn.operations.management.commands import serve as serve_command

# In Vénissieux, as the demo's operator: only its address differs.
OPERATOR = {"name": "SITIV", "email": "support@sitiv.fr", "phone": "04 72 00 00 01",
            "siren": "200046977", "address": "2 rue Jean Moulin", "postcode": "69200",
            "city": "Vénissieux", "iban": "FR76 1007 1690 0000 0020 0123 456",
            "vat_number": "FR03200046977", "tax_registration": "",
            "short_name": "SITIV", "primary_color": "#1F3A68"}


@pytest.fixture
def production_ready(settings):
    """Settings as a production deployment that followed docs/operations.md has them."""
    settings.OPSN_ENVIRONMENT = "production"
    settings.SECRET_KEY = "k3y-" + "x7Qz" * 14
    settings.DEBUG = False
    settings.OPSN_IDP = "keycloak"
    settings.OPSN_OIDC_ISSUER = "https://sso.opsn.example.fr/realms/opsn"
    settings.OPSN_OIDC_CLIENT_SECRET = "a-real-client-secret"
    settings.OPSN_IDENTITY_PROVISIONING = KEYCLOAK_PROVISIONING
    settings.OPSN_KEYCLOAK_SERVER_URL = "https://sso.opsn.example.fr"
    settings.OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET = "a-real-admin-secret"
    settings.OPSN_PAYFIP = "payfip"
    settings.OPSN_METRICS_TOKEN = "a-metrics-token"
    settings.OPSN_EMBEDDED_DATABASES = []
    settings.OPSN_BROKER_URL = "amqp://opsn:secret@rabbitmq:5672/"
    settings.OPSN_JOBS_MODE = "broker"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.OPSN_BASE_DOMAIN = "opsn.example.fr"
    settings.SESSION_COOKIE_SECURE = True
    settings.OPSN_OPERATOR = dict(OPERATOR)
    return settings


def errors() -> dict[str, str]:
    """The production check's errors: id → message (ids repeat for the operator)."""
    return {f"{m.id} {m.msg.split(' ', 1)[0]}": m.msg for m in demo_values()}


def test_development_is_untouched(settings):
    assert settings.OPSN_ENVIRONMENT == "development"
    messages = demo_values()
    assert [(m.id, m.is_serious()) for m in messages] == [("opsn.I001", False)]
    production.refuse_demo_values_to_serve()  # nothing raised


def test_a_deployment_that_followed_the_checklist_passes(production_ready):
    assert demo_values() == []
    call_command("check", "--deploy", "--tag", production.TAG)  # no SystemCheckError


def test_check_deploy_names_every_demo_value_at_once(settings):
    settings.OPSN_ENVIRONMENT = "production"  # and the demo's values everywhere else
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    settings.OPSN_EMBEDDED_DATABASES = ["default"]
    settings.OPSN_BROKER_URL = ""
    settings.DEBUG = True
    with pytest.raises(SystemCheckError) as refused:
        call_command("check", "--deploy")
    text = str(refused.value)
    for variable in ("SECRET_KEY", "DEBUG", "OPSN_IDP", "OPSN_OIDC_CLIENT_SECRET",
                     "OPSN_OIDC_ISSUER", "OPSN_KEYCLOAK_SERVER_URL",
                     "OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET", "OPSN_PAYFIP", "OPSN_METRICS_TOKEN",
                     "DATABASE_URL", "OPSN_BROKER_URL", "EMAIL_URL", "OPSN_BASE_DOMAIN",
                     "SECURE_COOKIES", "OPSN_OPERATOR_NAME", "OPSN_OPERATOR_EMAIL",
                     "OPSN_OPERATOR_PHONE", "OPSN_OPERATOR_SIREN", "OPSN_OPERATOR_IBAN"):
        assert f"{variable} " in text, variable
    assert "(opsn.E003) OPSN_IDP vaut « local »" in text
    assert ("OPSN_OPERATOR_ADDRESS, OPSN_OPERATOR_POSTCODE et OPSN_OPERATOR_CITY manquent"
            in text)


@pytest.mark.parametrize("changes, code, variable", [
    ({"SECRET_KEY": DEVELOPMENT_SECRET_KEY}, "opsn.E001", "SECRET_KEY"),
    ({"DEBUG": True}, "opsn.E002", "DEBUG"),
    ({"OPSN_IDP": "local"}, "opsn.E003", "OPSN_IDP"),
    ({"OPSN_OIDC_CLIENT_SECRET": DEMO_OIDC_CLIENT_SECRET}, "opsn.E004",
     "OPSN_OIDC_CLIENT_SECRET"),
    ({"OPSN_OIDC_ISSUER": "http://connexion.localhost"}, "opsn.E005", "OPSN_OIDC_ISSUER"),
    ({"OPSN_IDENTITY_PROVISIONING": LOCAL_PROVISIONING}, "opsn.E006",
     "OPSN_IDENTITY_PROVISIONING"),
    ({"OPSN_KEYCLOAK_SERVER_URL": ""}, "opsn.E007", "OPSN_KEYCLOAK_SERVER_URL"),
    ({"OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET": ""}, "opsn.E008",
     "OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET"),
    ({"OPSN_PAYFIP": "local"}, "opsn.E009", "OPSN_PAYFIP"),
    ({"OPSN_METRICS_TOKEN": ""}, "opsn.E010", "OPSN_METRICS_TOKEN"),
    ({"OPSN_EMBEDDED_DATABASES": ["default"]}, "opsn.E011", "DATABASE_URL"),
    ({"OPSN_EMBEDDED_DATABASES": ["east"]}, "opsn.E011", "DATABASE_URL"),
    ({"OPSN_BROKER_URL": ""}, "opsn.E012", "OPSN_BROKER_URL"),
    ({"OPSN_JOBS_MODE": "inline"}, "opsn.E012", "OPSN_BROKER_URL"),
    ({"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}, "opsn.E013",
     "EMAIL_URL"),
    ({"CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}},
     "opsn.E014", "CACHE_URL"),
    ({"OPSN_BASE_DOMAIN": "localhost"}, "opsn.E015", "OPSN_BASE_DOMAIN"),
    ({"SESSION_COOKIE_SECURE": False}, "opsn.E016", "SECURE_COOKIES"),
    ({"OPSN_OPERATOR": {**OPERATOR, "iban": DEMO_OPERATOR["OPSN_OPERATOR_IBAN"]}},
     "opsn.E017", "OPSN_OPERATOR_IBAN"),
    ({"OPSN_OPERATOR": {**OPERATOR, "siren": DEMO_OPERATOR["OPSN_OPERATOR_SIREN"]}},
     "opsn.E017", "OPSN_OPERATOR_SIREN"),
    ({"OPSN_OPERATOR": {**OPERATOR, "email": ""}}, "opsn.E017", "OPSN_OPERATOR_EMAIL"),
    ({"OPSN_OPERATOR": {**OPERATOR, "address": DEMO_OPERATOR["OPSN_OPERATOR_ADDRESS"]}},
     "opsn.E017", "OPSN_OPERATOR_ADDRESS,"),
    # The titres' seller VAT identifier (EN 16931 BT-31): missing, the demo's, not a valid
    # French VAT number, or another SIREN's.
    ({"OPSN_OPERATOR": {**OPERATOR, "vat_number": ""}}, "opsn.E017",
     "OPSN_OPERATOR_VAT_NUMBER"),
    ({"OPSN_OPERATOR": {**OPERATOR, "vat_number": DEMO_OPERATOR["OPSN_OPERATOR_VAT_NUMBER"]}},
     "opsn.E017", "OPSN_OPERATOR_VAT_NUMBER"),
    ({"OPSN_OPERATOR": {**OPERATOR, "vat_number": "FR04200046977"}}, "opsn.E018",
     "OPSN_OPERATOR_VAT_NUMBER"),
    ({"OPSN_OPERATOR": {**OPERATOR, "vat_number": "FR40303265045"}}, "opsn.E018",
     "OPSN_OPERATOR_VAT_NUMBER"),
])
def test_each_demo_value_is_refused_naming_its_variable(production_ready, changes, code,
                                                         variable):
    for name, value in changes.items():
        setattr(production_ready, name, value)
    assert list(errors()) == [f"{code} {variable}"]


@pytest.fixture
def started(monkeypatch):
    """What each entry point would start, recorded instead."""
    calls: list[str] = []
    monkeypatch.setattr(serve_command.os, "execve", lambda *a: calls.append("gunicorn"))
    monkeypatch.setattr(worker_command.dramatiq, "Worker",
                        lambda *a, **k: calls.append("worker") or pytest.fail("started"))
    monkeypatch.setattr(scheduler_command, "tick", lambda: calls.append("tick") or [])
    monkeypatch.setattr(scheduler_command, "deliver_pending", lambda: (0, 0))
    monkeypatch.setattr(migrate_command, "call_command",
                        lambda name, **k: name == "migrate_schemas" and calls.append("migrate"))
    monkeypatch.setattr(migrate_command, "commune_databases", list)
    return calls


ENTRY_POINTS = [("serve",), ("worker",), ("scheduler", "--once"), ("migrate_communes",)]


@pytest.mark.parametrize("command", ENTRY_POINTS)
def test_every_entry_point_refuses_to_start_on_a_demo_value(production_ready, started,
                                                             command):
    production_ready.OPSN_IDP = "local"
    production_ready.OPSN_METRICS_TOKEN = ""
    with pytest.raises(SystemCheckError) as refused:
        call_command(*command)
    assert "OPSN_IDP" in str(refused.value)
    assert "OPSN_METRICS_TOKEN" in str(refused.value)
    assert started == []


@pytest.mark.parametrize("command", [("serve",), ("scheduler", "--once"),
                                     ("migrate_communes", "--verbosity", "0")])
def test_entry_points_start_when_nothing_is_left_of_the_demo(production_ready, started,
                                                             command, tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    call_command(*command)
    assert started == [{"serve": "gunicorn", "scheduler": "tick",
                        "migrate_communes": "migrate"}[command[0]]]


def test_any_wsgi_server_is_refused_too(production_ready):
    production_ready.DEBUG = True
    with pytest.raises(ImproperlyConfigured, match=r"\(opsn.E002\) DEBUG est activé"):
        refuse_demo_values_to_serve()


def test_opsn_serve_stops_before_gunicorn_in_a_real_process(tmp_path):
    """The command as an orchestrator runs it: exit status 1, the variables on stderr,
    no server (nor embedded database) started."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "OPSN_ENVIRONMENT": "production",
           "OPSN_DATA_DIR": str(tmp_path / "data"), "LOG_FORMAT": "text",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    done = subprocess.run([sys.executable, "-m", "opsn.cli", "serve", "--bind",
                           "127.0.0.1:1"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "SystemCheckError" in done.stderr
    for variable in ("SECRET_KEY", "OPSN_IDP", "OPSN_METRICS_TOKEN", "DATABASE_URL"):
        assert f"{variable} " in done.stderr
    assert not (tmp_path / "data" / "pg").exists()  # no embedded PostgreSQL in production
    assert "Booting worker" not in done.stderr and "Listening at" not in done.stderr
