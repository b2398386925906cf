"""The realm an operator imports says what the platform relies on."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings

from opsn.accounts import keycloak, oidc
from opsn.agents.models import Role

REALM = json.loads((Path(__file__).parents[2] / "infra/keycloak/realm-opsn.json").read_text())


def client(client_id: str) -> dict:
    return next(c for c in REALM["clients"] if c["clientId"] == client_id)


def test_the_platform_client_uses_the_code_flow_with_pkce_and_rs256():
    platform = client(settings.OPSN_OIDC_CLIENT_ID)
    assert platform["publicClient"] is False and platform["standardFlowEnabled"] is True
    assert platform["implicitFlowEnabled"] is False
    assert platform["directAccessGrantsEnabled"] is False
    assert platform["attributes"]["pkce.code.challenge.method"] == "S256"
    assert platform["attributes"]["id.token.signed.response.alg"] == "RS256"
    assert all(uri.endswith("/compte/oidc/callback/") for uri in platform["redirectUris"])
    assert platform["secret"] == "${OPSN_OIDC_CLIENT_SECRET}"  # a placeholder, never a secret


def test_the_tokens_carry_the_claims_the_platform_reads():
    scope = next(s for s in REALM["clientScopes"] if s["name"] == "opsn-groups")
    assert scope["name"] in client(settings.OPSN_OIDC_CLIENT_ID)["defaultClientScopes"]
    mappers = {m["name"]: m for m in scope["protocolMappers"]}
    assert mappers["groups"]["config"]["claim.name"] == "groups"
    assert mappers["groups"]["config"]["full.path"] == "true"  # /communes/<insee>/<role>
    assert mappers["groups"]["config"]["id.token.claim"] == "true"
    assert mappers["amr"]["protocolMapper"] == "oidc-amr-mapper"
    assert mappers["birthdate"]["config"]["claim.name"] == "birthdate"
    staff = next(g for g in REALM["groups"] if g["name"] == "operator")["subGroups"][0]
    assert staff["path"] == oidc.STAFF_GROUP
    assert any(g["path"] == "/communes" for g in REALM["groups"])
    assert set(keycloak.ROLES) == set(Role.values)
    assert json.loads(REALM["attributes"]["acr.loa.map"])["2"] == 2
    assert "2" in settings.OPSN_OIDC_STRONG_ACR


def test_agents_enrol_a_second_factor_and_franceconnect_is_brokered():
    actions = {a["alias"]: a for a in REALM["requiredActions"]}
    assert actions["CONFIGURE_TOTP"]["enabled"] is True
    assert "CONFIGURE_TOTP" in keycloak.REQUIRED_ACTIONS
    fc = next(p for p in REALM["identityProviders"] if p["alias"] == "franceconnect-particulier")
    assert fc["providerId"] == "franceconnect-particulier"
    assert fc["config"]["clientSecret"] == "${FRANCECONNECT_CLIENT_SECRET}"
    assert set(fc["config"]["defaultScope"].split()) >= {"openid", "given_name", "family_name",
                                                         "birthdate", "email"}
    claims = {m["config"]["claim"] for m in REALM["identityProviderMappers"]}
    assert claims == {"given_name", "family_name", "birthdate", "email"}
    assert REALM["organizationsEnabled"] is True and REALM["bruteForceProtected"] is True
