"""Signing in through OpenID Connect, against the local provider (the real protocol:
discovery, authorization code with PKCE, RS256 ID tokens checked against the JWKS)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from urllib.parse import parse_qs, quote, urlsplit

import pyotp
import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from jwcrypto import jwk, jwt

from opsn.accounts import oidc
from opsn.agents.models import AgentRole, Role
from opsn.communes import services
from opsn.idp import store
from opsn.idp.models import Identity
from tests.helpers.communes import in_schema
from tests.helpers.identity import (
    IDP_HOST,
    PASSWORD,
    VEN,
    Browser,
    agent,
    grant,
    make_account,
    provider_key,
    refused,
    signed,
)

VAULX = "vaulx-en-velin.localhost"


def tamper_id_token(monkeypatch, change):
    """The provider's token response reaches the platform with ``change(claims)``'s ID
    token instead (an attacker or a broken provider in between)."""
    send = oidc.InProcessAdapter.send

    def tampered(self, request, **kwargs):
        response = send(self, request, **kwargs)
        if urlsplit(request.url).path == "/token/" and response.status_code == 200:
            body = response.json()
            _header, _payload, _ = body["id_token"].split(".")
            claims = json.loads(jwt.JWT(jwt=body["id_token"], key=provider_key()).claims)
            body["id_token"] = change(claims)
            response._content = json.dumps(body).encode()
        return response

    monkeypatch.setattr(oidc.InProcessAdapter, "send", tampered)


def test_discovery_and_jwks_are_served(db):
    client = Client(HTTP_HOST=IDP_HOST)
    discovery = client.get("/.well-known/openid-configuration").json()
    assert discovery["issuer"] == "http://connexion.localhost"
    assert discovery["authorization_endpoint"] == "http://connexion.localhost/authorize/"
    assert discovery["token_endpoint"] == "http://connexion.localhost/token/"
    assert discovery["end_session_endpoint"] == "http://connexion.localhost/logout/"
    assert "RS256" in discovery["id_token_signing_alg_values_supported"]
    keys = client.get(urlsplit(discovery["jwks_uri"]).path).json()["keys"]
    assert [(k["kty"], k["alg"]) for k in keys] == [("RSA", "RS256")]
    assert keys[0]["kid"] == provider_key().thumbprint()


def _code_for(browser: Browser, host: str, account: str) -> tuple[str, str]:
    """Run the flow until the provider sends the browser back with a code."""
    client = browser.client(host)
    location = client.get("/compte/connexion/")["Location"]
    idp = browser.client(IDP_HOST)
    authorize = urlsplit(location)
    page = idp.get(f"{authorize.path}?{authorize.query}")
    page = idp.post("/connexion/", {"email": account, "password": PASSWORD,
                                    "next": f"{authorize.path}?{authorize.query}"})
    back = idp.get(page["Location"])["Location"]
    query = parse_qs(urlsplit(back).query)
    return query["code"][0], query["state"][0]


def test_the_code_flow_requires_the_right_pkce_verifier(db):
    make_account("camille@citoyen.fr")
    browser = Browser()
    code, state = _code_for(browser, VEN, "camille@citoyen.fr")
    browser.client(VEN).session["oidc_states"][state]["code_verifier"]
    idp = Client(HTTP_HOST=IDP_HOST)
    auth = {"client_id": settings.OPSN_OIDC_CLIENT_ID,
            "client_secret": settings.OPSN_OIDC_CLIENT_SECRET}
    redirect = f"http://{VEN}/compte/oidc/callback/"
    wrong = idp.post("/token/", {"grant_type": "authorization_code", "code": code,
                                 "redirect_uri": redirect, "code_verifier": "x" * 64, **auth})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


def test_an_authorization_request_without_pkce_is_refused(db):
    make_account("camille@citoyen.fr")
    browser = Browser()
    _where, _page = browser.sign_in(VEN, "camille@citoyen.fr")
    idp = browser.client(IDP_HOST)
    answer = idp.get("/authorize/", {"response_type": "code", "client_id":
                                     settings.OPSN_OIDC_CLIENT_ID, "scope": "openid",
                                     "redirect_uri": f"http://{VEN}/compte/oidc/callback/"})
    assert answer["Location"].startswith(f"http://{VEN}/compte/oidc/callback/?error=")
    assert "Code+challenge+required" in answer["Location"]
    plain = idp.get("/authorize/", {"response_type": "code", "code_challenge": "a" * 43,
                                    "code_challenge_method": "plain",
                                    "client_id": settings.OPSN_OIDC_CLIENT_ID})
    assert plain.status_code == 400 and "S256" in plain.content.decode()


def test_a_redirect_uri_outside_the_platform_is_refused(db):
    make_account("camille@citoyen.fr")
    browser = Browser()
    browser.sign_in(VEN, "camille@citoyen.fr")
    answer = browser.client(IDP_HOST).get("/authorize/", {
        "response_type": "code", "client_id": settings.OPSN_OIDC_CLIENT_ID, "scope": "openid",
        "code_challenge": "a" * 43, "code_challenge_method": "S256",
        "redirect_uri": "http://evil.example/compte/oidc/callback/"})
    assert answer.status_code == 400
    assert "evil.example" not in answer.get("Location", "")


def test_a_citizen_signs_in_with_the_claims_of_the_provider(db):
    store.account_ensure("camille@citoyen.fr", password=PASSWORD, given_name="Camille",
                         family_name="Durand")
    browser = Browser()
    where, page = browser.sign_in(VEN, "camille@citoyen.fr")
    assert where == VEN and "Camille Durand" in page.content.decode()
    user = page.wsgi_request.user
    assert user.username == str(Identity.objects.get(user__username="camille@citoyen.fr").sub)
    assert user.email == "camille@citoyen.fr" and not user.is_staff


@pytest.mark.parametrize("redirect_uri", [
    f"http://{VEN}:8081/compte/oidc/callback/",  # another port of a registry host
    f"http://{VEN}:80/compte/oidc/callback/x",
    f"https://{VEN}/compte/oidc/callback/",  # another scheme (so another port)
    f"http://{VEN}:443/compte/oidc/callback/",
    f"http://attacker@{VEN}/compte/oidc/callback/",
    "http://console.localhost:8443/compte/oidc/callback/",
])
def test_a_redirect_uri_is_matched_exactly_scheme_host_and_port(db, redirect_uri):
    make_account("camille@citoyen.fr")
    browser = Browser()
    browser.sign_in(VEN, "camille@citoyen.fr")  # signed in at the provider: it would answer
    answer = browser.client(IDP_HOST).get("/authorize/", {
        "response_type": "code", "client_id": settings.OPSN_OIDC_CLIENT_ID, "scope": "openid",
        "code_challenge": "a" * 43, "code_challenge_method": "S256",
        "redirect_uri": redirect_uri})
    assert answer.status_code == 400
    assert "code=" not in answer.get("Location", "")
    # The platform's own origin, written with its default port, is the same origin.
    same = browser.client(IDP_HOST).get("/authorize/", {
        "response_type": "code", "client_id": settings.OPSN_OIDC_CLIENT_ID, "scope": "openid",
        "code_challenge": "a" * 43, "code_challenge_method": "S256",
        "redirect_uri": f"http://{VEN}:80/compte/oidc/callback/"})
    assert same.status_code == 302 and "code=" in same["Location"]


def test_behind_the_demos_port_the_callback_carries_that_port(db, settings):
    settings.OPSN_OIDC_ISSUER = "http://connexion.localhost:8000"
    make_account("camille@citoyen.fr")
    browser = Browser()
    browser.sign_in(VEN, "camille@citoyen.fr")
    params = {"response_type": "code", "client_id": settings.OPSN_OIDC_CLIENT_ID,
              "scope": "openid", "code_challenge": "a" * 43, "code_challenge_method": "S256"}
    idp = browser.client(IDP_HOST)
    on_port = idp.get("/authorize/", {
        **params, "redirect_uri": f"http://{VEN}:8000/compte/oidc/callback/"})
    assert on_port.status_code == 302
    assert on_port["Location"].startswith(f"http://{VEN}:8000/compte/oidc/callback/?code=")
    assert idp.get("/authorize/", {
        **params, "redirect_uri": f"http://{VEN}/compte/oidc/callback/"}).status_code == 400


def _two_audiences(azp: str | None):
    def change(claims):
        claims = {**claims, "aud": [settings.OPSN_OIDC_CLIENT_ID, "another-client"]}
        if azp is not None:
            claims["azp"] = azp
        return signed(claims, provider_key(), provider_key().thumbprint())
    return change


@pytest.mark.parametrize(("change", "code", "text"), [
    (lambda c: signed(c, jwk.JWK.generate(kty="RSA", size=2048), provider_key().thumbprint()),
     "bad_signature", "signature invalide"),
    (lambda c: signed({**c, "aud": "another-site"}, provider_key(), provider_key().thumbprint()),
     "wrong_audience", "destinée à un autre site"),
    (_two_audiences(None), "wrong_audience", "destinée à un autre site"),
    (_two_audiences("another-client"), "wrong_audience", "destinée à un autre site"),
    (lambda c: signed({**c, "azp": "another-client"}, provider_key(),
                      provider_key().thumbprint()),
     "wrong_audience", "destinée à un autre site"),
    (lambda c: "not-a-token", "malformed_token", "illisible"),
    (lambda c: "e30K%.%%%.%%%", "malformed_token", "illisible"),  # a header that is not JSON
    (lambda c: signed({**c, "exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000},
                      provider_key(), provider_key().thumbprint()),
     "expired_token", "a expiré"),
])
def test_a_forged_or_stale_id_token_is_refused(db, monkeypatch, caplog, change, code, text):
    make_account("camille@citoyen.fr")
    tamper_id_token(monkeypatch, change)
    browser = Browser()
    with caplog.at_level(logging.INFO):
        where, page = browser.sign_in(VEN, "camille@citoyen.fr")
    assert where == VEN
    refused(page, caplog, code, text)
    assert "_auth_user_id" not in browser.client(VEN).session


def test_an_id_token_for_several_audiences_naming_us_as_its_party_is_accepted(db, monkeypatch):
    make_account("camille@citoyen.fr")
    tamper_id_token(monkeypatch, _two_audiences(settings.OPSN_OIDC_CLIENT_ID))
    browser = Browser()
    where, _page = browser.sign_in(VEN, "camille@citoyen.fr")
    assert where == VEN and "_auth_user_id" in browser.client(VEN).session


def test_an_id_token_whose_nonce_was_already_used_is_refused(db, monkeypatch, caplog):
    make_account("camille@citoyen.fr")
    first = Browser()
    first.sign_in(VEN, "camille@citoyen.fr")
    stolen = first.client(VEN).session["oidc_id_token"]
    tamper_id_token(monkeypatch, lambda claims: stolen)
    browser = Browser()
    with caplog.at_level(logging.INFO):
        _where, page = browser.sign_in(VEN, "camille@citoyen.fr")
    refused(page, caplog, "nonce_reused", "déjà été utilisée")


def test_a_replayed_callback_is_refused(db, caplog):
    make_account("camille@citoyen.fr")
    browser = Browser()
    browser.sign_in(VEN, "camille@citoyen.fr")
    callback = next(v for v in browser.visited if "/compte/oidc/callback/" in v)
    again = browser.client(VEN).get(callback[len(VEN):])
    refused(again, caplog, "state_unknown", "a expiré ou a déjà été utilisée")


def test_an_agent_without_two_factors_is_refused(venissieux, caplog):
    make_account("agent@venissieux.fr")
    grant(venissieux, "agent@venissieux.fr", Role.REGISSEUR)
    Identity.objects.filter(user__username="agent@venissieux.fr").update(totp_secret="")
    browser = Browser()
    _where, page = browser.sign_in(VEN, "agent@venissieux.fr")
    refused(page, caplog, "weak_authentication", "double authentification")
    assert "_auth_user_id" not in browser.client(VEN).session


def test_the_second_factor_is_asked_of_agents_and_a_wrong_code_refused(venissieux):
    make_account("agent@venissieux.fr")
    grant(venissieux, "agent@venissieux.fr", Role.REGISSEUR)
    browser = Browser()
    where, page = browser.sign_in(VEN, "agent@venissieux.fr", second_factor=False)
    assert where == IDP_HOST and 'name="code"' in page.content.decode()
    answer = browser.client(IDP_HOST).post("/connexion/code/", {"code": "000000", "next": "/"})
    assert answer.status_code == 400
    assert 'role="alert"' in answer.content.decode()
    assert "Code incorrect ou expiré" in answer.content.decode()


def test_roles_come_from_the_provider_at_each_sign_in(venissieux):
    make_account("agent@venissieux.fr")
    grant(venissieux, "agent@venissieux.fr", Role.REGISSEUR, Role.MANDATAIRE)
    with in_schema(venissieux):
        AgentRole.objects.filter(account="agent@venissieux.fr").delete()
    Browser().sign_in(VEN, "agent@venissieux.fr")
    with in_schema(venissieux):
        assert set(AgentRole.objects.filter(account="agent@venissieux.fr")
                   .values_list("role", flat=True)) == {Role.REGISSEUR, Role.MANDATAIRE}
    store.membership_remove(store.account("agent@venissieux.fr"),
                            store.commune_group("69259", Role.MANDATAIRE))
    Browser().sign_in(VEN, "agent@venissieux.fr")
    with in_schema(venissieux):
        assert set(AgentRole.objects.filter(account="agent@venissieux.fr")
                   .values_list("role", flat=True)) == {Role.REGISSEUR}


def test_an_agent_of_one_commune_has_no_role_on_another(venissieux, vaulx):
    agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)
    browser = Browser()
    where, _page = browser.sign_in(VAULX, "admin@venissieux.fr")
    assert where == VAULX
    assert browser.client(VAULX).get("/espace/identite/").status_code == 403
    with in_schema(vaulx):
        assert not AgentRole.objects.filter(account="admin@venissieux.fr").exists()


def test_the_provider_session_makes_the_next_host_silent_and_logout_ends_both(venissieux,
                                                                             vaulx):
    make_account("camille@citoyen.fr")
    browser = Browser()
    browser.sign_in(VEN, "camille@citoyen.fr")
    where, page = browser.go("/compte/connexion/", host=VAULX)  # no form: single sign-on
    assert where == VAULX and "_auth_user_id" in browser.client(VAULX).session

    assert "_auth_user_id" in browser.client(VEN).session  # still signed in on the first
    where, page = browser.go("/compte/deconnexion/", host=VEN, data={})
    assert where == VEN and "Se connecter" in page.content.decode()
    assert "_auth_user_id" not in browser.client(VEN).session
    assert "_auth_user_id" not in browser.client(IDP_HOST).session
    where, page = browser.go("/compte/connexion/", host=VAULX)
    assert where == IDP_HOST and 'name="password"' in page.content.decode()


def test_signing_out_on_one_site_ends_the_session_on_every_site(venissieux, vaulx):
    make_account("camille@citoyen.fr")
    browser = Browser()
    browser.sign_in(VEN, "camille@citoyen.fr")
    browser.go("/compte/connexion/", host=VAULX)  # single sign-on: a session on Vaulx too
    assert browser.client(VAULX).get("/mon-espace/").status_code == 200

    browser.go("/compte/deconnexion/", host=VEN, data={})
    answer = browser.client(VAULX).get("/mon-espace/")  # Vaulx's cookie is still there
    assert answer.status_code == 302 and "/compte/connexion/" in answer["Location"]

    # Signing in again opens new sessions, which the old sign-out does not end.
    where, _ = browser.sign_in(VAULX, "camille@citoyen.fr")
    assert where == VAULX
    assert browser.client(VAULX).get("/mon-espace/").status_code == 200


def test_sign_in_attempts_are_rate_limited(db, caplog):
    make_account("camille@citoyen.fr")
    idp = Client(HTTP_HOST=IDP_HOST)
    for _ in range(5):
        wrong = idp.post("/connexion/", {"email": "camille@citoyen.fr", "password": "non"})
        assert wrong.status_code == 400
        assert "Adresse électronique ou mot de passe incorrect." in wrong.content.decode()
    locked = idp.post("/connexion/", {"email": "camille@citoyen.fr", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Trop de tentatives de connexion" in locked.content.decode()
    assert any("sign-in locked" in r.getMessage() for r in caplog.records)


def test_sessions_expire(venissieux, caplog):
    client = agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)
    assert client.get("/espace/identite/").status_code == 200
    session = client.session
    session[oidc.SESSION_EXPIRES] = time.time() - 1
    session.save()
    with caplog.at_level(logging.INFO):
        page = client.get("/espace/identite/")
    assert page.status_code == 401
    assert "Votre session a expiré" in page.content.decode()
    assert any("session expired" in r.getMessage() for r in caplog.records)
    assert client.get("/espace/identite/").status_code == 302  # signed out now


def test_a_session_is_valid_only_on_its_own_host(venissieux, vaulx):
    make_account("admin@x.fr")
    grant(venissieux, "admin@x.fr", Role.ADMINISTRATOR)
    grant(vaulx, "admin@x.fr", Role.ADMINISTRATOR)
    client = Browser()
    client.sign_in(VEN, "admin@x.fr")
    cookie = client.client(VEN).cookies["sessionid"].value
    other = Client(HTTP_HOST=VAULX)
    other.cookies["sessionid"] = cookie
    assert other.get("/espace/identite/").status_code == 302


def test_the_local_provider_blocks_a_suspended_communes_agents(venissieux):
    make_account("agent@venissieux.fr")
    grant(venissieux, "agent@venissieux.fr", Role.REGISSEUR)
    user = store.account("agent@venissieux.fr")
    services.commune_suspend(commune=venissieux, reason="impayés")
    assert store.groups_of(user) == []  # no longer in the tokens
    services.commune_resume(commune=venissieux)
    assert store.groups_of(user) == ["/communes/69259/regisseur"]


def test_the_nonces_already_used_are_seen_by_every_process(committed):
    """A replayed ID token must be refused whichever worker it reaches: the cache that
    remembers used nonces is shared (a database table by default), not per process."""

    cache.set("opsn-test-nonce", "seen", timeout=60)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}:{db['PORT']}/{db['NAME']}"
    other = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.core.cache import "
         "cache; print(cache.get('opsn-test-nonce'))"], capture_output=True, text=True,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "opsn.settings"},
        timeout=60)
    cache.delete("opsn-test-nonce")
    assert other.stdout.strip().splitlines()[-1] == "seen", other.stderr[-2000:]


def test_a_second_factor_code_works_once(venissieux):
    make_account("agent@venissieux.fr")
    grant(venissieux, "agent@venissieux.fr", Role.REGISSEUR)
    first = Browser()
    where, _ = first.sign_in(VEN, "agent@venissieux.fr")
    assert where == VEN
    identity = Identity.objects.get(user__username="agent@venissieux.fr")
    used = pyotp.TOTP(identity.totp_secret).at(identity.totp_last_step * 30)

    second = Browser()  # someone who saw the code over the agent's shoulder
    where, page = second.go("/compte/connexion/", host=VEN)
    where, page = second.go("/connexion/", host=IDP_HOST, data={
        "email": "agent@venissieux.fr", "password": PASSWORD, "next": page.context["next"]})
    where, page = second.go("/connexion/code/", host=IDP_HOST, data={
        "code": used, "next": page.context["next"]})
    assert where == IDP_HOST and page.status_code == 400
    assert "Ce code a déjà servi" in page.content.decode()
    assert "_auth_user_id" not in second.client(VEN).session
