"""Who is signed in: the one seam between the platform and its identity provider.

Today: local Django accounts (public schema), signed in with a password. The identity
issue replaces this module's internals with OpenID Connect (Keycloak); the console, the
commune space and the API only call ``operator_required``, ``commune_role_required`` and
``invite_commune_administrator``.
"""
