"""Provisioning of the communes' identities at the identity provider.

One small interface, two implementations chosen by ``OPSN_IDENTITY_PROVISIONING``:
``idp.provisioning.LocalProvisioning`` (the local provider's store) and
``accounts.keycloak.KeycloakProvisioning`` (python-keycloak, the admin REST API). The
commune registry calls it through ``communes.identities`` (it does not import this app).

Each method runs inside the registry's transaction: an exception rolls the onboarding
(or the suspension…) back. Errors are ``ProvisioningError`` with a French message.
"""

from __future__ import annotations

from typing import Protocol

from opsn.communes.errors import RegistryError


class ProvisioningError(RegistryError):
    code = "identity_provider_error"
    http_status = 502


class Provisioning(Protocol):
    def commune_provisioned(self, commune, admin_email: str | None) -> None:
        """The commune's group (or organization) and its roles exist; the first
        administrator, if given, holds the administrator role and is invited by e-mail."""

    def agent_granted(self, commune, email: str, role: str) -> None:
        """The commune's administrator gave ``role`` to ``email``: the account exists
        (created and invited by e-mail to activate it when new; told of the role when
        not) and is a member of the commune's role group."""

    def agent_revoked(self, commune, email: str, role: str) -> None:
        """Undo ``agent_granted`` for that role (the account stays)."""

    def account_active(self, email: str) -> bool:
        """The account exists and was activated (its password chosen, its e-mail
        verified): an invitation to it is no longer pending."""

    def invitation_resent(self, commune, email: str, role: str) -> None:
        """Send the invitation e-mail of ``agent_granted`` again (a new activation link)."""

    def commune_suspended(self, commune) -> None:
        """The commune's agents can no longer act for it."""

    def commune_resumed(self, commune) -> None:
        """Undo ``commune_suspended``."""

    def commune_removed(self, commune) -> None:
        """The commune's memberships are gone (people's accounts stay: they may be
        citizens or agents elsewhere)."""
