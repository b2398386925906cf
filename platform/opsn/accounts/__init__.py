"""Who is signed in: the one seam between the platform and its identity provider.

People sign in with OpenID Connect (``accounts.oidc``): Keycloak in production, the local
provider (``idp``) in the demo and the tests. The console, the commune space and the API
only call ``accounts.auth`` (``operator_required``, ``commune_role_required``,
``commune_roles``, ``actor_of``); communes' identities are provisioned through
``accounts.identity``.
"""
