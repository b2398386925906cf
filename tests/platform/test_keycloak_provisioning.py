"""The Keycloak implementation of the provisioning interface, against Keycloak's
documented admin REST API (no server here: ``responses`` answers as Keycloak does and
records what python-keycloak sends)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from opsn.accounts import keycloak
from opsn.accounts.identity import ProvisioningError
from opsn.communes import services, team
from opsn.communes.identities import _implementation
from opsn.communes.models import Commune
from opsn.kernel.actors import Actor
from tests.helpers.communes import in_schema

KC = "https://sso.opsn.test"
ADMIN = f"{KC}/admin/realms/opsn"
TOKEN = f"{KC}/realms/opsn/protocol/openid-connect/token"


class FakeKeycloak:
    """Enough of Keycloak 26's admin API: organizations, groups by path, users."""

    def __init__(self, mock: responses.RequestsMock):
        self.orgs: dict[str, dict] = {}
        self.groups: dict[str, str] = {}  # path -> id
        self.users: dict[str, str] = {}  # username -> id
        self.tokens = 0
        self.fail: dict[tuple[str, str], int] = {}  # (method, path regex) -> status, once
        self.calls: list[tuple[str, str, object]] = []
        self.made_meanwhile: dict[str, str] = {}
        self.details: dict[str, dict] = {}  # username -> what Keycloak says of the user
        mock.add_callback(responses.POST, TOKEN, callback=self.token)
        mock.add_callback(responses.GET, re.compile(f"{ADMIN}/.*"), callback=self.handle)
        mock.add_callback(responses.POST, re.compile(f"{ADMIN}/.*"), callback=self.handle)
        mock.add_callback(responses.PUT, re.compile(f"{ADMIN}/.*"), callback=self.handle)
        mock.add_callback(responses.DELETE, re.compile(f"{ADMIN}/.*"), callback=self.handle)

    def token(self, request):
        self.tokens += 1
        form = parse_qs(request.body)
        assert form["grant_type"] == ["client_credentials"]
        assert form["client_id"] == ["opsn-provisioning"]
        return 200, {}, json.dumps({"access_token": f"t{self.tokens}", "expires_in": 300,
                                    "token_type": "Bearer"})

    def handle(self, request):
        url = urlsplit(request.url)
        path = url.path[len("/admin/realms/opsn"):]
        body = request.body
        if isinstance(body, bytes):
            body = body.decode()
        self.calls.append((request.method, path, body))
        for (method, pattern), status in list(self.fail.items()):
            if method == request.method and re.fullmatch(pattern, path):
                del self.fail[(method, pattern)]
                if status == 409:  # made meanwhile by another process
                    self.groups.update(self.made_meanwhile)
                return status, {}, json.dumps({"errorMessage": "boom"})
        assert request.headers["Authorization"].startswith("Bearer t")
        query = parse_qs(url.query)
        if path == "/organizations" and request.method == "GET":
            found = [o for o in self.orgs.values() if o["alias"] == query["search"][0]]
            return 200, {}, json.dumps(found)
        if path == "/organizations" and request.method == "POST":
            org = json.loads(body)
            if org["alias"] in {o["alias"] for o in self.orgs.values()}:
                return 409, {}, json.dumps({"errorMessage": "exists"})
            org["id"] = f"org-{len(self.orgs) + 1}"
            self.orgs[org["id"]] = org
            return 201, {"Location": f"{ADMIN}/organizations/{org['id']}"}, ""
        if m := re.fullmatch(r"/organizations/([\w-]+)", path):
            if request.method == "PUT":
                self.orgs[m[1]] = json.loads(body)
            elif request.method == "DELETE":
                self.orgs.pop(m[1], None)
            return 204, {}, ""
        if re.fullmatch(r"/organizations/[\w-]+/members(/invite-existing-user)?", path):
            return 201, {}, ""
        if path.startswith("/group-by-path/"):
            wanted = path[len("/group-by-path"):]
            if wanted in self.groups:
                return 200, {}, json.dumps({"id": self.groups[wanted], "path": wanted})
            return 404, {}, json.dumps({"error": "Group path does not exist"})
        if path == "/groups" or re.fullmatch(r"/groups/[\w-]+/children", path):
            name = json.loads(body)["name"]
            parent = "" if path == "/groups" else next(
                p for p, i in self.groups.items() if i == path.split("/")[2])
            new_id = f"g-{len(self.groups) + 1}"
            self.groups[f"{parent}/{name}"] = new_id
            return 201, {"Location": f"{ADMIN}/groups/{new_id}"}, ""
        if m := re.fullmatch(r"/groups/([\w-]+)", path):
            self.groups = {p: i for p, i in self.groups.items() if i != m[1]}
            return 204, {}, ""
        if path == "/users" and request.method == "GET":
            name = query["username"][0]
            return 200, {}, json.dumps([{**self.details.get(name, {}), "id": self.users[name],
                                         "username": name}] if name in self.users else [])
        if path == "/users" and request.method == "POST":
            user = json.loads(body)
            self.users[user["username"]] = f"u-{len(self.users) + 1}"
            return 201, {"Location": f"{ADMIN}/users/{self.users[user['username']]}"}, ""
        if re.fullmatch(r"/users/[\w-]+/groups/[\w-]+", path):
            return 204, {}, ""
        raise AssertionError(f"unexpected {request.method} {path}")


@pytest.fixture
def fake(settings):
    settings.OPSN_IDENTITY_PROVISIONING = "opsn.accounts.keycloak.KeycloakProvisioning"
    settings.OPSN_KEYCLOAK_SERVER_URL = KC
    settings.OPSN_KEYCLOAK_REALM = "opsn"
    settings.OPSN_KEYCLOAK_ADMIN_CLIENT_SECRET = "s3cret"
    keycloak.forget_admin()
    _implementation.cache_clear()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeKeycloak(mock)
    keycloak.forget_admin()
    _implementation.cache_clear()


def test_onboarding_creates_the_organization_groups_and_invites_the_administrator(db, fake):
    services.commune_onboard(insee_code="69091", admin_email="Maire@Givors.fr")

    assert fake.tokens == 1  # one admin token for the whole onboarding
    org = next(iter(fake.orgs.values()))
    assert org["alias"] == "c-69091" and org["attributes"] == {"insee_code": ["69091"]}
    assert org["domains"] == [{"name": "givors.localhost", "verified": False}]
    assert sorted(fake.groups) == ["/communes", "/communes/69091",
                                   "/communes/69091/administrator", "/communes/69091/finance",
                                   "/communes/69091/mandataire", "/communes/69091/regisseur",
                                   "/communes/69091/suppleant"]
    user = next(json.loads(b) for m, p, b in fake.calls if (m, p) == ("POST", "/users"))
    assert user == {"username": "maire@givors.fr", "email": "maire@givors.fr",
                    "enabled": True,
                    "requiredActions": ["VERIFY_EMAIL", "UPDATE_PASSWORD", "CONFIGURE_TOTP"]}
    admin_group = fake.groups["/communes/69091/administrator"]
    tail = fake.calls[-3:]
    assert tail == [("PUT", f"/users/u-1/groups/{admin_group}", None),
                    ("POST", "/organizations/org-1/members", "u-1"),
                    ("POST", "/organizations/org-1/members/invite-existing-user", "id=u-1")]


def test_onboarding_again_after_a_partial_run_is_idempotent(db, fake):
    fake.orgs["org-9"] = {"id": "org-9", "alias": "c-69091", "name": "Givors"}
    fake.groups["/communes"] = "g-root"
    services.commune_onboard(insee_code="69091")
    assert list(fake.orgs) == ["org-9"]
    assert ("POST", "/groups", json.dumps({"name": "communes"})) not in fake.calls


def test_a_409_on_create_is_taken_as_existing(db, fake):
    fake.fail[("POST", "/groups")] = 409
    fake.made_meanwhile = {"/communes": "g-root"}
    services.commune_onboard(insee_code="69091")
    assert Commune.objects.filter(insee_code="69091").exists()
    assert fake.groups["/communes/69091"]
    assert ("GET", "/group-by-path/communes", None) in fake.calls


def test_an_expired_token_is_refreshed_once(db, fake):
    fake.fail[("GET", "/organizations")] = 401
    services.commune_onboard(insee_code="69091")
    assert fake.tokens == 2
    assert Commune.objects.filter(insee_code="69091").exists()


def test_a_server_error_rolls_the_onboarding_back_with_a_clear_message(db, fake, caplog):
    fake.fail[("POST", r"/groups/[\w-]+/children")] = 503
    with pytest.raises(ProvisioningError) as error:
        services.commune_onboard(insee_code="69091", admin_email="maire@givors.fr")
    assert "Keycloak" in error.value.message and "503" in error.value.message
    assert "Givors" in error.value.message
    assert not Commune.objects.filter(insee_code="69091").exists()
    assert any("keycloak: accueil de la commune for 69091 failed: 503" in r.getMessage()
               for r in caplog.records)


def test_suspend_resume_and_offboard(db, fake, venissieux):
    fake.orgs["org-1"] = {"id": "org-1", "alias": "c-69259", "name": "Vénissieux",
                          "enabled": True}
    fake.groups.update({"/communes": "g-1", "/communes/69259": "g-2"})
    services.commune_suspend(commune=venissieux, reason="impayés")
    assert fake.orgs["org-1"]["enabled"] is False
    services.commune_resume(commune=venissieux)
    assert fake.orgs["org-1"]["enabled"] is True
    provisioning = keycloak.KeycloakProvisioning()
    provisioning.commune_removed(venissieux)
    assert "/communes/69259" not in fake.groups and fake.orgs == {}
    provisioning.commune_removed(venissieux)  # again: nothing left, no error


# --- The commune's team (communes.team): the payloads sent for an agent ---------------------

def test_a_team_member_is_invited_resent_and_cancelled_as_keycloak_expects(db, fake):
    commune = services.commune_onboard(insee_code="69091")
    admin = Actor(account="maire@givors.fr", name="Maire")
    fake.calls.clear()
    with in_schema(commune):
        team.agent_invite(commune=commune, email=" Compta@Givors.fr ", role="finance",
                          actor=admin)
    finance = fake.groups["/communes/69091/finance"]
    user = next(json.loads(b) for m, p, b in fake.calls if (m, p) == ("POST", "/users"))
    assert user == {"username": "compta@givors.fr", "email": "compta@givors.fr",
                    "enabled": True,
                    "requiredActions": ["VERIFY_EMAIL", "UPDATE_PASSWORD", "CONFIGURE_TOTP"]}
    assert fake.calls[-3:] == [
        ("PUT", f"/users/u-1/groups/{finance}", None),
        ("POST", "/organizations/org-1/members", "u-1"),
        ("POST", "/organizations/org-1/members/invite-existing-user", "id=u-1")]

    # Not activated yet (required actions left): the invitation is pending; resent, it is
    # Keycloak's organization invitation again.
    with in_schema(commune):
        (pending,) = team.invitations_pending(commune=commune)
        fake.calls.clear()
        team.invitation_resend(commune=commune, pk=pending.pk, actor=admin)
    assert ("POST", "/organizations/org-1/members/invite-existing-user", "id=u-1") in fake.calls

    # Cancelled: the account leaves the commune's role group (the account itself stays).
    with in_schema(commune):
        fake.calls.clear()
        team.invitation_cancel(commune=commune, pk=pending.pk, actor=admin)
        assert team.invitations_pending(commune=commune) == []
    assert ("DELETE", f"/users/u-1/groups/{finance}", None) in fake.calls
    assert fake.tokens == 1  # one admin token for all of it


def test_an_activated_keycloak_account_is_no_longer_an_invitation(db, fake):
    commune = services.commune_onboard(insee_code="69091")
    with in_schema(commune):
        team.agent_invite(commune=commune, email="regie@givors.fr", role="regisseur",
                          actor=Actor(account="maire@givors.fr", name="Maire"))
        assert len(team.invitations_pending(commune=commune)) == 1
        fake.details["regie@givors.fr"] = {"emailVerified": True, "requiredActions": []}
        assert team.invitations_pending(commune=commune) == []


def test_the_service_account_may_do_what_team_provisioning_sends():
    realm = json.loads((Path(__file__).parents[2] / "infra/keycloak/realm-opsn.json")
                       .read_text())
    account = next(u for u in realm["users"]
                   if u.get("serviceAccountClientId") == "opsn-provisioning")
    # users (create, read, group membership), groups by path, organizations and invitations
    assert {"manage-users", "view-users", "query-groups", "manage-realm"} <= set(
        account["clientRoles"]["realm-management"])
