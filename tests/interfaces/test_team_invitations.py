"""Pending invitations on the commune's team page: listed until the account is activated,
resent (a new activation link), cancelled (the roles withdrawn, here and at the identity
provider); and, end to end, an agent invited by the commune's administrator activates the
account from the e-mail's link at the LOCAL provider and signs in through real OpenID
Connect with the role given."""

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django_webtest import DjangoTestApp

from opsn.agents.models import AgentRole, Invitation, Role
from opsn.audit.models import AuditEvent
from opsn.idp import store
from tests.helpers.communes import in_schema
from tests.helpers.identity import IDP_HOST, PASSWORD, grant, make_account, sign_in_webtest

HOST = {"HTTP_HOST": "venissieux.localhost"}
ADMIN = "admin@venissieux.fr"


def _post(app, url, data, **kwargs):
    """A POST as the page's forms send it (with the page's CSRF token)."""
    page = app.get(url, extra_environ=HOST)
    token = next(iter(page.forms.values()))["csrfmiddlewaretoken"].value
    return app.post(url, {**data, "csrfmiddlewaretoken": token}, extra_environ=HOST,
                    **kwargs)


@pytest.fixture
def admin(django_app, venissieux):
    make_account(ADMIN)
    grant(venissieux, ADMIN, Role.ADMINISTRATOR)
    return sign_in_webtest(django_app, "venissieux.localhost", ADMIN)


def _invite(admin, email, role, capture):
    form = next(f for f in admin.get("/espace/agents/", extra_environ=HOST).forms.values()
                if "action" in f.fields and f["action"].value == "invite")
    form["email"] = email
    form["role"] = role
    with capture(execute=True):
        return form.submit(extra_environ=HOST).follow(extra_environ=HOST)


def _link(message) -> str:
    return re.search(r"https?://\S+/activer/[^/\s]+/[^/\s]+/", message.body)[0]


def test_an_invited_agent_is_pending_then_activates_and_signs_in_with_the_role(
        admin, venissieux, django_capture_on_commit_callbacks):
    page = _invite(admin, "compta@venissieux.fr", "finance",
                   django_capture_on_commit_callbacks)
    text = unescape(page.text)
    assert "Invitations en attente" in text and "compta@venissieux.fr" in text
    assert "Service financier — invité le" in text and "envoyée une fois" in text

    # Resent: a second e-mail, a fresh link; the page says how many times.
    form = next(f for f in page.forms.values() if "action" in f.fields
                and f["action"].value == "resend")
    with django_capture_on_commit_callbacks(execute=True):
        page = form.submit(extra_environ=HOST).follow(extra_environ=HOST)
    assert "Invitation renvoyée à compta@venissieux.fr." in unescape(page.text)
    assert "envoyée 2 fois" in unescape(page.text)
    first, second = mail.outbox
    assert first.to == second.to == ["compta@venissieux.fr"]

    # The agent follows the link of the e-mail at the local provider, chooses a password…
    agent = DjangoTestApp()
    url = urlsplit(_link(second))
    page = agent.get(url.path, extra_environ={"HTTP_HOST": IDP_HOST})
    while page.status_int in (301, 302):
        page = agent.get(urlsplit(page.headers["Location"]).path,
                         extra_environ={"HTTP_HOST": IDP_HOST})
    form = next(f for f in page.forms.values() if "new_password1" in f.fields)
    form["new_password1"] = form["new_password2"] = PASSWORD
    form.submit(extra_environ={"HTTP_HOST": IDP_HOST}).follow(
        extra_environ={"HTTP_HOST": IDP_HOST})
    assert store.account("compta@venissieux.fr").check_password(PASSWORD)

    # …then signs in on the commune's site through the provider (code flow, second factor):
    # the commune knows it as its finance staff, and the invitation is no longer pending.
    sign_in_webtest(agent, "venissieux.localhost", "compta@venissieux.fr")
    assert agent.get("/espace/titres-operateur/", extra_environ=HOST).status_int == 200
    assert agent.get("/espace/agents/", extra_environ=HOST, status=403)
    with in_schema(venissieux):
        assert set(AgentRole.objects.filter(account="compta@venissieux.fr")
                   .values_list("role", flat=True)) == {"finance"}
    page = admin.get("/espace/agents/", extra_environ=HOST)
    assert "Aucune invitation en attente." in unescape(page.text)


def test_a_cancelled_invitation_withdraws_its_roles_here_and_at_the_provider(
        admin, venissieux, django_capture_on_commit_callbacks):
    page = _invite(admin, "caisse@venissieux.fr", "mandataire",
                   django_capture_on_commit_callbacks)
    assert store.groups_of(store.account("caisse@venissieux.fr")) == [
        "/communes/69259/mandataire"]
    form = next(f for f in page.forms.values() if "action" in f.fields
                and f["action"].value == "cancel")
    page = form.submit(extra_environ=HOST).follow(extra_environ=HOST)
    assert "Invitation de caisse@venissieux.fr annulée" in unescape(page.text)
    assert "Aucune invitation en attente." in unescape(page.text)
    assert store.groups_of(store.account("caisse@venissieux.fr")) == []
    with in_schema(venissieux):
        assert not AgentRole.objects.filter(account="caisse@venissieux.fr").exists()
        assert Invitation.objects.get().cancelled_at is not None
        codes = list(AuditEvent.objects.order_by("id").values_list("code", flat=True))
    assert codes == ["agent.role_granted", "agent.role_revoked", "agent.invitation_cancelled"]

    # Cancelled: it cannot be resent nor cancelled again.
    with in_schema(venissieux):
        pk = Invitation.objects.get().pk
    refused = _post(admin, "/espace/agents/", {"action": "resend", "pk": pk}).follow(
        extra_environ=HOST)
    assert "Cette invitation n'est plus en attente." in unescape(refused.text)
    assert len(mail.outbox) == 1


def test_an_activated_account_has_no_invitation_to_resend(admin, venissieux,
                                                          django_capture_on_commit_callbacks):
    _invite(admin, "regie@venissieux.fr", "regisseur", django_capture_on_commit_callbacks)
    store.account_ensure("regie@venissieux.fr", password=PASSWORD)  # activated meanwhile
    with in_schema(venissieux):
        pk = Invitation.objects.get().pk
    page = _post(admin, "/espace/agents/", {"action": "cancel", "pk": pk}).follow(
        extra_environ=HOST)
    assert "a déjà activé son compte" in unescape(page.text)
    with in_schema(venissieux):
        assert AgentRole.objects.filter(account="regie@venissieux.fr").exists()
