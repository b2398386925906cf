"""The relying party on the paths a sign-in rarely takes: a forged or mismatched token, a
rotated key, a provider that errs or does not answer. Written against the relying party
before it moved onto mozilla-django-oidc's hooks (issue 13), and passing with both."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from jwcrypto import jwk, jwt

from opsn.accounts import oidc
from tests.helpers.identity import (
    IDP_HOST,
    VEN,
    Browser,
    make_account,
    provider_key,
    refused,
    signed,
)


def intercept(monkeypatch, change):
    """``change(path, request, response)`` sees (and may alter) every in-process answer."""
    send = oidc.InProcessAdapter.send

    def wrapped(self, request, **kwargs):
        response = send(self, request, **kwargs)
        return change(urlsplit(request.url).path, request, response) or response

    monkeypatch.setattr(oidc.InProcessAdapter, "send", wrapped)


def id_token_claims(body: dict) -> dict:
    return json.loads(jwt.JWT(jwt=body["id_token"], key=provider_key()).claims)


def new_id_token(monkeypatch, make):
    def change(path, request, response):
        if path == "/token/" and response.status_code == 200:
            body = response.json()
            body["id_token"] = make(id_token_claims(body))
            response._content = json.dumps(body).encode()
    intercept(monkeypatch, change)


@pytest.fixture(autouse=True)
def _fresh():
    oidc.forget_provider()
    yield
    oidc.forget_provider()


def test_wrong_issuer(db, monkeypatch, caplog):
    make_account("camille@citoyen.fr")
    new_id_token(monkeypatch, lambda c: signed({**c, "iss": "http://evil"}, provider_key(),
                                               provider_key().thumbprint()))
    with caplog.at_level(logging.INFO):
        _w, page = Browser().sign_in(VEN, "camille@citoyen.fr")
    refused(page, caplog, "wrong_issuer", "ne vient pas du service")


def test_nonce_mismatch(db, monkeypatch, caplog):
    make_account("camille@citoyen.fr")
    new_id_token(monkeypatch, lambda c: signed({**c, "nonce": "another"}, provider_key(),
                                               provider_key().thumbprint()))
    with caplog.at_level(logging.INFO):
        _w, page = Browser().sign_in(VEN, "camille@citoyen.fr")
    refused(page, caplog, "nonce_mismatch", "ne correspond pas")


def test_no_nonce(db, monkeypatch, caplog):
    make_account("camille@citoyen.fr")
    new_id_token(monkeypatch, lambda c: signed({k: v for k, v in c.items() if k != "nonce"},
                                               provider_key(), provider_key().thumbprint()))
    with caplog.at_level(logging.INFO):
        _w, page = Browser().sign_in(VEN, "camille@citoyen.fr")
    refused(page, caplog, "nonce_mismatch", "ne correspond pas")


def test_hs256_refused(db, monkeypatch, caplog):
    make_account("camille@citoyen.fr")
    secret = jwk.JWK(kty="oct", k="c2VjcmV0" * 8)

    def make(c):
        token = jwt.JWT(header={"alg": "HS256", "kid": provider_key().thumbprint()}, claims=c)
        token.make_signed_token(secret)
        return token.serialize()
    new_id_token(monkeypatch, make)
    with caplog.at_level(logging.INFO):
        _w, page = Browser().sign_in(VEN, "camille@citoyen.fr")
    refused(page, caplog, "bad_signature", "signature")


def test_unknown_kid_fetches_the_jwks_again(db, monkeypatch, caplog):
    make_account("camille@citoyen.fr")
    Browser().sign_in(VEN, "camille@citoyen.fr")  # the JWKS is cached
    fetched = []

    def change(path, request, response):
        if path.startswith("/jwks") or path.startswith("/.well-known/jwks"):
            fetched.append(path)
        if path == "/token/" and response.status_code == 200:
            body = response.json()
            body["id_token"] = signed(id_token_claims(body), provider_key(), "unknown")
            response._content = json.dumps(body).encode()
    intercept(monkeypatch, change)
    with caplog.at_level(logging.INFO):
        _w, page = Browser().sign_in(VEN, "camille@citoyen.fr")
    refused(page, caplog, "bad_signature", "signature")
    assert len(fetched) == 1, fetched


def test_a_rotated_key_is_found(db, monkeypatch):
    make_account("camille@citoyen.fr")
    Browser().sign_in(VEN, "camille@citoyen.fr")  # the JWKS is cached, without the new key
    rotated = jwk.JWK.generate(kty="RSA", size=2048)
    public = json.loads(rotated.export_public())

    def change(path, request, response):
        if "jwks" in path and response.status_code == 200:
            body = response.json()
            body["keys"].append({**public, "kid": "k2", "alg": "RS256", "use": "sig"})
            response._content = json.dumps(body).encode()
        if path == "/token/" and response.status_code == 200:
            body = response.json()
            body["id_token"] = signed(id_token_claims(body), rotated, "k2")
            response._content = json.dumps(body).encode()
    intercept(monkeypatch, change)
    browser = Browser()
    where, _page = browser.sign_in(VEN, "camille@citoyen.fr")
    assert where == VEN and "_auth_user_id" in browser.client(VEN).session


def test_no_email_anywhere(db, monkeypatch, caplog):
    make_account("camille@citoyen.fr")

    def change(path, request, response):
        if path == "/token/" and response.status_code == 200:
            body = response.json()
            claims = {k: v for k, v in id_token_claims(body).items() if k != "email"}
            body["id_token"] = signed(claims, provider_key(), provider_key().thumbprint())
            response._content = json.dumps(body).encode()
        if path.startswith("/userinfo") and response.status_code == 200:
            body = {k: v for k, v in response.json().items() if k != "email"}
            response._content = json.dumps(body).encode()
    intercept(monkeypatch, change)
    with caplog.at_level(logging.INFO):
        _w, page = Browser().sign_in(VEN, "camille@citoyen.fr")
    refused(page, caplog, "incomplete_claims", "identité complète")


def test_userinfo_of_another(db, monkeypatch, caplog):
    make_account("camille@citoyen.fr")

    def change(path, request, response):
        if path.startswith("/userinfo") and response.status_code == 200:
            response._content = json.dumps({**response.json(), "sub": "other"}).encode()
    intercept(monkeypatch, change)
    with caplog.at_level(logging.INFO):
        _w, page = Browser().sign_in(VEN, "camille@citoyen.fr")
    refused(page, caplog, "incomplete_claims", "identité complète")


def test_userinfo_fills_missing_claims_and_id_token_wins(db, monkeypatch):
    make_account("camille@citoyen.fr")

    def change(path, request, response):
        if path.startswith("/userinfo") and response.status_code == 200:
            response._content = json.dumps({**response.json(), "given_name": "Info",
                                            "family_name": "Nom"}).encode()
        if path == "/token/" and response.status_code == 200:
            body = response.json()
            claims = {**id_token_claims(body), "given_name": "Token"}
            claims.pop("family_name", None)
            body["id_token"] = signed(claims, provider_key(), provider_key().thumbprint())
            response._content = json.dumps(body).encode()
    intercept(monkeypatch, change)
    browser = Browser()
    _w, page = browser.sign_in(VEN, "camille@citoyen.fr")
    user = page.wsgi_request.user
    assert (user.first_name, user.last_name) == ("Token", "Nom")
    assert not user.has_usable_password()


def test_token_request_on_the_wire(db, monkeypatch):
    make_account("camille@citoyen.fr")
    seen = []

    def change(path, request, response):
        if path == "/token/":
            seen.append((parse_qs(request.body if isinstance(request.body, str)
                                  else request.body.decode()),
                         request.headers.get("Authorization", "")[:6]))
    intercept(monkeypatch, change)
    Browser().sign_in(VEN, "camille@citoyen.fr")
    (body, authorization), = seen
    assert sorted(body) == ["code", "code_verifier", "grant_type", "redirect_uri"]
    assert authorization == "Basic "
    assert body["redirect_uri"] == [f"http://{VEN}/compte/oidc/callback/"]


def test_token_endpoint_error(db, monkeypatch, caplog):
    make_account("camille@citoyen.fr")

    def change(path, request, response):
        if path == "/token/":
            response.status_code = 400
    intercept(monkeypatch, change)
    with caplog.at_level(logging.INFO):
        _w, page = Browser().sign_in(VEN, "camille@citoyen.fr")
    refused(page, caplog, "provider_error", "a refusé la demande")


def test_provider_unreachable(db, settings, caplog):
    settings.OPSN_OIDC_ISSUER = "http://connexion.localhost/nowhere"
    with caplog.at_level(logging.INFO):
        page = Browser().client(VEN).get("/compte/connexion/")
    assert page.status_code == 503 and "ne répond pas" in page.content.decode()


def test_error_from_the_provider(db, caplog):
    with caplog.at_level(logging.INFO):
        page = Browser().client(VEN).get("/compte/oidc/callback/?error=access_denied&state=x")
    refused(page, caplog, "provider_error", "a refusé la demande")


def test_sign_out(db):
    make_account("camille@citoyen.fr")
    anonymous = Browser().client(VEN)
    assert anonymous.get("/compte/deconnexion/").status_code == 405
    assert anonymous.post("/compte/deconnexion/")["Location"] == "/"
    browser = Browser()
    browser.sign_in(VEN, "camille@citoyen.fr")
    id_token = browser.client(VEN).session["oidc_id_token"]
    answer = browser.client(VEN).post("/compte/deconnexion/")
    where = urlsplit(answer["Location"])
    assert (where.netloc, where.path) == (IDP_HOST, "/logout/")
    assert parse_qs(where.query) == {"post_logout_redirect_uri": [f"http://{VEN}/"],
                                     "client_id": ["opsn-platform"],
                                     "id_token_hint": [id_token]}
    assert "_auth_user_id" not in browser.client(VEN).session


def test_no_discovery_for_a_signed_in_page(db, monkeypatch):
    make_account("camille@citoyen.fr")
    browser = Browser()
    browser.sign_in(VEN, "camille@citoyen.fr")
    oidc.forget_provider()
    calls = []
    intercept(monkeypatch, lambda path, request, response: calls.append(path))
    assert browser.client(VEN).get("/mon-espace/").status_code == 200
    assert calls == []


def test_the_provider_own_form_makes_no_discovery(db, monkeypatch):
    make_account("camille@citoyen.fr")
    calls = []
    intercept(monkeypatch, lambda path, request, response: calls.append(path))
    idp = Client(HTTP_HOST=IDP_HOST)
    answer = idp.post("/connexion/", {"email": "camille@citoyen.fr", "password": "non"})
    assert answer.status_code == 400 and calls == []
    _ = time
