"""The one place the tests create accounts, grant roles and sign in.

Accounts live in the local OpenID Connect provider's store (idp); signing in drives the
real protocol: /compte/connexion/ on the host → the provider's authorization endpoint → its
sign-in form (e-mail, password) → the second factor for agents and staff (TOTP) → the
host's callback, which redeems the code and checks the signed ID token. Also the pieces
the identity tests share to forge tokens and read refusals.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pyotp
from django.conf import settings
from django.test import Client
from jwcrypto import jwk, jwt

from opsn.agents.models import AgentRole
from opsn.communes.models import Commune
from opsn.idp import store
from tests.helpers.communes import in_schema

PASSWORD = "correct horse battery staple"
IDP_HOST = "connexion.localhost"
VEN = "venissieux.localhost"


class Browser:
    """One test client per host, as a browser keeps one cookie jar per host."""

    def __init__(self):
        self.clients: dict[str, Client] = {}
        self.visited: list[str] = []

    def client(self, host: str) -> Client:
        return self.clients.setdefault(host, Client(HTTP_HOST=host))

    def go(self, url: str, *, host: str, data: dict | None = None):
        """GET (or POST ``data``) ``url`` on ``host`` and follow redirects across hosts;
        returns (final host, response)."""

        response = (self.client(host).post(url, data) if data is not None
                    else self.client(host).get(url))
        for _ in range(20):
            self.visited.append(f"{host}{url}")
            if response.status_code not in (301, 302, 303):
                return host, response
            location = urlsplit(response["Location"])
            host = (location.hostname or host).lower()
            url = location.path + (f"?{location.query}" if location.query else "")
            response = self.client(host).get(url)
        raise AssertionError("too many redirects: " + " → ".join(self.visited[-5:]))

    def sign_in(self, host: str, account: str, *, password: str | None = None,
                second_factor: bool = True):
        """The whole flow; returns the last response (on ``host`` when it succeeded)."""

        where, page = self.go("/compte/connexion/", host=host)
        if where == IDP_HOST and 'name="password"' in page.content.decode():
            where, page = self.go("/connexion/", host=IDP_HOST, data={
                "email": account, "password": PASSWORD if password is None else password,
                "next": page.context["next"]})
        if where == IDP_HOST and 'name="code"' in page.content.decode() and second_factor:
            user = store.account(account)
            where, page = self.go("/connexion/code/", host=IDP_HOST, data={
                "code": fresh_code(user),
                "next": page.context["next"]})
        return where, page


def fresh_code(user) -> str:
    """The authenticator's code a person would type: each code works once, so a test that
    signs the same agent in twice within 30 seconds types the next one (the provider
    accepts one step ahead, for clock drift)."""

    user.idp_identity.refresh_from_db()
    totp = pyotp.TOTP(user.idp_identity.totp_secret)
    step = max(int(time.time() // totp.interval), user.idp_identity.totp_last_step + 1)
    return totp.at(step * totp.interval)


def make_account(email: str, *, operator: bool = False):
    """A person who can sign in at the local provider with ``PASSWORD`` (the operator's
    staff hold the staff membership and a second factor)."""

    user = store.account_ensure(email, password=PASSWORD)
    if operator:
        store.membership_add(user, store.STAFF_GROUP)
    return user


def grant(commune: Commune, account: str, *roles: str) -> None:
    """``account`` holds ``roles`` in ``commune`` (administrator, régisseur…): memberships
    at the provider (what the next sign-in synchronises) and the commune's rows (for tests
    that call services directly)."""

    user = store.account(account) or store.account_ensure(account, password=PASSWORD)
    for role in roles:
        store.membership_add(user, store.commune_group(commune.insee_code, role))
    with in_schema(commune):
        for role in roles:
            AgentRole.objects.get_or_create(account=account.lower(), role=role)


def sign_in(host: str, account: str) -> Client:
    """A browser signed in as ``account`` on ``host``, through the real sign-in flow."""
    browser = Browser()
    where, page = browser.sign_in(host, account)
    assert where == host and "_auth_user_id" in browser.client(host).session, (
        where, page.status_code, page.content.decode()[:800])
    return browser.client(host)


def sign_in_webtest(app, host: str, account: str):
    """The same, for a WebTest browser (``django_app``) that then drives real forms."""

    def follow(page, current):
        while page.status_int in (301, 302, 303):
            location = urlsplit(page.headers["Location"])
            current = (location.hostname or current).lower()
            page = app.get(location.path + (f"?{location.query}" if location.query else ""),
                           extra_environ={"HTTP_HOST": current})
        return page, current

    page, current = follow(app.get("/compte/connexion/", extra_environ={"HTTP_HOST": host}),
                           host)
    form = next(f for f in page.forms.values() if "password" in f.fields)
    form["email"] = account
    form["password"] = PASSWORD
    page, current = follow(form.submit(extra_environ={"HTTP_HOST": current}), current)
    form = next((f for f in page.forms.values() if "code" in f.fields), None)
    if form is not None:
        user = store.account(account)
        form["code"] = fresh_code(user)
        page, current = follow(form.submit(extra_environ={"HTTP_HOST": current}), current)
    assert current == host, (current, page.status_int, page.text[:800])
    return app


def agent(commune: Commune, account: str, *roles: str) -> Client:
    """An agent of ``commune`` holding ``roles``, signed in on the commune's domain."""
    make_account(account)
    grant(commune, account, *roles)
    return sign_in(commune.primary_domain, account)


# --- Forged tokens and refusals (the identity tests) ----------------------------------------

def provider_key() -> jwk.JWK:
    return jwk.JWK.from_pem(settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"].encode())


def signed(claims: dict, key: jwk.JWK, kid: str) -> str:
    token = jwt.JWT(header={"alg": "RS256", "typ": "JWT", "kid": kid}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def refused(page, caplog, code: str, text: str) -> None:
    html = page.content.decode()
    assert page.status_code in (400, 403)
    assert 'role="alert"' in html and text in html
    assert any("sign-in refused on" in r.getMessage() and code in r.getMessage()
               for r in caplog.records if r.name == "opsn.accounts")


def totp_of(account: str):
    """The account's authenticator (read before the browser starts: the ORM does not run
    inside Playwright's event loop)."""
    return pyotp.TOTP(store.totp_enrol(store.account(account)))
