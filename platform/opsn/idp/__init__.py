"""The local OpenID Connect provider (demo, tests, small deployments).

Served by the same deployment on its own host (``OPSN_IDP_HOST``, e.g.
``connexion.localhost``) when ``OPSN_IDP=local``. It speaks the real protocol through
django-oauth-toolkit: discovery, JWKS, authorization code with PKCE (S256 only), signed
RS256 ID tokens, userinfo, RP-initiated logout. It emits the same claims as the Keycloak
realm in ``infra/keycloak/``: ``sub`` (a UUID), ``email``, ``given_name``, ``family_name``,
``birthdate``, ``groups`` (``/communes/<insee>/<role>``, ``/operator/staff``), ``acr``
(``"1"`` password, ``"2"`` two factors) and ``amr``.

Its accounts are Django users of the public schema whose username is the e-mail address;
the platform's own users (accounts.oidc) are keyed by ``sub`` and never share a row with
them. The platform never imports this package: it talks to it over OpenID Connect.
"""
