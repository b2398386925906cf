"""A commune's administrator invites an agent by e-mail with a role, gives and takes roles,
removes an agent, from the commune's space, through the local identity provider; every
change is in the audit log; bad input is refused next to the field, nothing saved."""

import re
from html import unescape

import pytest
from django.core import mail

from opsn.agents.models import AgentRole, Role
from opsn.audit.models import AuditEvent
from opsn.idp import store
from tests.helpers.communes import in_schema
from tests.helpers.identity import PASSWORD, agent, sign_in

HOST = "venissieux.localhost"


@pytest.fixture
def admin(venissieux):
    return agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)


def roles(commune, account):
    with in_schema(commune):
        return set(AgentRole.objects.filter(account=account).values_list("role", flat=True))


def text(response) -> str:
    return unescape(response.content.decode())


def test_an_invited_agent_signs_in_with_the_role_given(admin, venissieux,
                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/espace/agents/", {"action": "invite",
                                                  "email": " Compta@Venissieux.fr ",
                                                  "role": "finance"}, follow=True)
    assert "compta@venissieux.fr est invité comme « Service financier »" in text(response)
    assert roles(venissieux, "compta@venissieux.fr") == {"finance"}
    (invitation,) = mail.outbox
    assert invitation.to == ["compta@venissieux.fr"]
    assert "Vous êtes service financier de l'espace de Vénissieux" in invitation.body
    assert re.search(r"/activer/[^/]+/[^/]+/", invitation.body)
    with in_schema(venissieux):
        event = AuditEvent.objects.get(code="agent.role_granted")
    assert (event.actor, event.target) == ("admin@venissieux.fr", "agent:compta@venissieux.fr")

    # The agent activates the account (its password; the activation page is
    # test_identity's) and signs in through the local provider: the role is the one given.
    store.account_ensure("compta@venissieux.fr", password=PASSWORD)
    compta = sign_in(HOST, "compta@venissieux.fr")
    assert roles(venissieux, "compta@venissieux.fr") == {"finance"}
    assert compta.get("/espace/agents/").status_code == 403

    admin.post("/espace/agents/", {"action": "give", "email": "compta@venissieux.fr",
                                   "role": "administrator"})
    assert sign_in(HOST, "compta@venissieux.fr").get("/espace/agents/").status_code == 200

    admin.post("/espace/agents/", {"action": "take", "email": "compta@venissieux.fr",
                                   "role": "administrator"})
    assert roles(venissieux, "compta@venissieux.fr") == {"finance"}
    # what the provider says at the next sign-in (each sign-in spends a TOTP step)
    assert store.groups_of(store.account("compta@venissieux.fr")) == [
        "/communes/69259/finance"]

    page = text(admin.post("/espace/agents/", {"action": "remove",
                                               "email": "compta@venissieux.fr"}, follow=True))
    assert "ne fait plus partie des agents" in page
    assert roles(venissieux, "compta@venissieux.fr") == set()
    with in_schema(venissieux):
        assert AuditEvent.objects.filter(code="agent.role_revoked").count() == 2
    assert store.groups_of(store.account("compta@venissieux.fr")) == []


@pytest.mark.parametrize(("email", "role", "message"), [
    ("", "finance", "Donnez l'adresse électronique"),
    ("pas-une-adresse", "finance", "n'est pas une adresse électronique valide"),
    ("x@y.fr\x00", "finance", ""),  # refused by the NUL-byte guard, before the view
    ("agent@venissieux.fr", "maire", "Choisissez un rôle de la liste"),
    ("admin@venissieux.fr", "finance", "est déjà agent de la commune"),
])
def test_a_bad_invitation_is_refused_next_to_its_field(admin, venissieux, email, role,
                                                       message):
    response = admin.post("/espace/agents/", {"action": "invite", "email": email,
                                              "role": role})
    assert response.status_code == 400
    assert message in text(response)
    if message:
        assert 'aria-invalid="true"' in text(response)
    assert mail.outbox == []
    with in_schema(venissieux):
        assert not AuditEvent.objects.filter(code="agent.role_granted").exists()
        assert set(AgentRole.objects.values_list("account", flat=True)) == {
            "admin@venissieux.fr"}


def test_the_last_administrator_cannot_be_removed(admin, venissieux):
    page = text(admin.post("/espace/agents/", {"action": "remove",
                                               "email": "admin@venissieux.fr"}, follow=True))
    assert "au moins un administrateur" in page
    assert roles(venissieux, "admin@venissieux.fr") == {"administrator"}


def test_only_an_administrator_manages_the_team(venissieux):
    regisseur = agent(venissieux, "regisseur@venissieux.fr", Role.REGISSEUR)
    response = regisseur.post("/espace/agents/", {"action": "invite",
                                                  "email": "x@venissieux.fr",
                                                  "role": "administrator"})
    assert response.status_code == 403
    assert roles(venissieux, "x@venissieux.fr") == set()
