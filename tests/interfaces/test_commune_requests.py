"""A commune's administrator asks, from the commune's space, for an application (or to
stop one, or to leave); the operator sees the pending request in the console and accepts
it (the commune's modules change on the day the convention's calendar says: billing
follows) or refuses it with a message; both sides are audited and told by e-mail once."""

import datetime
from html import unescape

import pytest
from django.core import mail
from django_webtest import DjangoTestApp

from opsn.agents.models import Role
from opsn.audit.models import AuditEvent
from opsn.billing import services
from opsn.billing.computation import BillingError
from opsn.billing.models import BillingEvent, SubscriptionRequest
from opsn.communes.models import CommuneModule, Module
from tests.helpers.communes import in_schema
from tests.helpers.identity import grant, make_account, sign_in_webtest

HOST = {"HTTP_HOST": "venissieux.localhost"}
CONSOLE = {"HTTP_HOST": "console.localhost"}
ADMIN = "admin@venissieux.fr"


def _post(app, url, data, **kwargs):
    """A POST as the page's forms send it (with the page's CSRF token)."""
    page = app.get(url, extra_environ=HOST)
    token = next(iter(page.forms.values()))["csrfmiddlewaretoken"].value
    return app.post(url, {**data, "csrfmiddlewaretoken": token}, extra_environ=HOST,
                    **kwargs)


@pytest.fixture
def commune_admin(django_app, venissieux):
    make_account(ADMIN)
    grant(venissieux, ADMIN, Role.ADMINISTRATOR)
    return sign_in_webtest(django_app, "venissieux.localhost", ADMIN)


@pytest.fixture
def operator_browser(django_app, operator):
    return sign_in_webtest(DjangoTestApp(), "console.localhost", operator.username)


def _missing_module(commune) -> Module:
    """An application the commune does not use (one is taken away if it uses them all)."""
    held = CommuneModule.objects.filter(commune=commune).values_list("module_id", flat=True)
    missing = Module.objects.filter(is_active=True).exclude(code__in=held).first()
    if missing is None:
        last = CommuneModule.objects.filter(commune=commune).order_by("-module_id").first()
        missing = last.module
        last.delete()
    return missing


def test_a_commune_requests_an_application_and_the_operator_accepts_it(
        venissieux, commune_admin, operator_browser, settings,
        django_capture_on_commit_callbacks):
    wanted = _missing_module(venissieux)
    assert wanted is not None
    page = commune_admin.get("/", extra_environ=HOST).click("Applications", extra_environ=HOST)
    form = next(f for f in page.forms.values()
                if "action" in f.fields and f["action"].value == "add")
    form["module"] = wanted.code
    form["note"] = "Pour le portail famille"
    with django_capture_on_commit_callbacks(execute=True):
        page = form.submit(extra_environ=HOST).follow(extra_environ=HOST)
    text = unescape(page.text)
    assert f"Demande envoyée à l'opérateur : ajout d'une application : {wanted.name}" in text
    assert "en attente de l'opérateur" in text
    request = SubscriptionRequest.objects.get()
    assert (request.status, request.requested_by) == ("pending", ADMIN)
    assert not CommuneModule.objects.filter(commune=venissieux, module=wanted).exists()
    (to_operator,) = mail.outbox
    assert to_operator.to == [settings.OPSN_OPERATOR["email"]]
    assert f"Vénissieux (69259) demande : ajout d'une application : {wanted.name}" in (
        to_operator.body)

    # The same request twice is refused: it already waits.
    form = next(f for f in commune_admin.get("/espace/applications/", extra_environ=HOST)
                .forms.values() if "action" in f.fields and f["action"].value == "add")
    form["module"] = wanted.code
    again = form.submit(extra_environ=HOST, status=400)
    assert "attend déjà la réponse de l'opérateur" in unescape(again.text)

    page = operator_browser.get("/facturation/", extra_environ=CONSOLE)
    assert "1 demande de commune en attente" in unescape(page.text)
    page = page.click("1 demande de commune en attente", extra_environ=CONSOLE)
    assert "Pour le portail famille" in page.text
    form = next(f for f in page.forms.values() if "decision" in f.fields)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        page = form.submit("decision", value="accept", extra_environ=CONSOLE).follow(
            extra_environ=CONSOLE)
    assert f"Demande de Vénissieux acceptée : ajout d'une application : {wanted.name}" in (
        unescape(page.text))
    request.refresh_from_db()
    assert request.status == "accepted" and request.decided_by == "operateur@opsn.test"
    added = CommuneModule.objects.get(commune=venissieux, module=wanted)
    assert added.starts_on == request.effective_on
    assert request.effective_on.month == 1 and request.effective_on.day == 1
    (to_commune,) = mail.outbox
    assert to_commune.to == [ADMIN]
    assert f"Elle prend effet le {request.effective_on:%d/%m/%Y}" in to_commune.body

    # Both sides keep the trail: the commune's audit log and the operator's billing trail.
    with in_schema(venissieux):
        assert list(AuditEvent.objects.order_by("id").values_list("code", "actor")) == [
            ("subscription.asked", ADMIN), ("subscription.decided", "operateur@opsn.test")]
    assert list(BillingEvent.objects.filter(insee_code="69259", code__startswith="subscr")
                .order_by("id").values_list("code", flat=True)) == [
        "subscription.asked", "subscription.accepted"]
    history = unescape(commune_admin.get("/espace/applications/", extra_environ=HOST).text)
    assert "acceptée" in history and f"{wanted.name}, depuis le" not in history  # from 1 Jan


def test_a_refusal_needs_a_message_and_changes_nothing(venissieux, console):
    wanted = _missing_module(venissieux)
    request = services.subscription_ask(commune=venissieux, action="add", module=wanted.code,
                                        by=ADMIN)
    response = console.post("/facturation/demandes/", {"pk": request.pk, "decision": "refuse",
                                                       "message": "  "}, **CONSOLE)
    assert response.status_code == 400
    assert "Donnez le motif du refus" in unescape(response.content.decode())
    request.refresh_from_db()
    assert request.status == "pending"
    console.post("/facturation/demandes/", {"pk": request.pk, "decision": "refuse",
                                            "message": "Pas avant le vote du budget"},
                 **CONSOLE)
    request.refresh_from_db()
    assert (request.status, request.decision_message) == ("refused",
                                                          "Pas avant le vote du budget")
    assert not CommuneModule.objects.filter(commune=venissieux, module=wanted).exists()
    with pytest.raises(BillingError, match="déjà refusée"):
        services.subscription_decide(request=request, accept=True)


def test_leaving_asks_for_a_confirmation_and_a_late_request_says_so(venissieux,
                                                                    commune_admin):
    response = _post(commune_admin, "/espace/applications/", {"action": "leave"},
                     status=400)
    assert "Cochez la case pour confirmer" in unescape(response.text)
    assert not SubscriptionRequest.objects.exists()
    late = services.subscription_ask(commune=venissieux, action="leave", by=ADMIN,
                                     today=datetime.date(2026, 10, 15))
    assert (late.late, late.effective_on) == (True, datetime.date(2028, 1, 1))
    assert "reçue après la date limite du 30/09/2026" in late.describe()


@pytest.mark.parametrize(("data", "message"), [
    ({"action": "add", "module": "inconnue"}, "Application inconnue"),
    ({"action": "add", "module": ""}, "Application inconnue"),
    ({"action": "remove", "module": "open-data-x"}, "Application inconnue"),
    ({"action": "pirater"}, "Demande inconnue"),
    ({"action": "add", "module": "regies", "note": "x" * 501}, "500 caractères"),
])
def test_a_bad_request_is_refused_and_nothing_is_saved(venissieux, commune_admin, data,
                                                       message):
    response = _post(commune_admin, "/espace/applications/", data,
                                  status=400)
    assert message in unescape(response.text)
    assert not SubscriptionRequest.objects.exists()


def test_only_the_administrator_asks(venissieux, django_app_factory):
    make_account("caisse@venissieux.fr")
    grant(venissieux, "caisse@venissieux.fr", Role.MANDATAIRE)
    browser = sign_in_webtest(django_app_factory(csrf_checks=False), "venissieux.localhost",
                              "caisse@venissieux.fr")
    browser.get("/espace/applications/", extra_environ=HOST, status=403)
    browser.post("/espace/applications/", {"action": "leave", "confirmed": "leave"},
                 extra_environ=HOST, status=403)
    assert not SubscriptionRequest.objects.exists()
