"""Errors the operator can act on. Each has a stable ``code`` (for the API and the exit
status of the command line) and a French message that says what is wrong."""

from __future__ import annotations

from opsn.kernel.errors import DomainError


class RegistryError(DomainError):
    pass


class UnknownInseeCode(RegistryError):
    code = "unknown_insee_code"
    http_status = 404


class InvalidInseeCode(UnknownInseeCode):
    """Not an INSEE code at all: 5 characters (digits, or 2A/2B and 3 digits for Corsica).
    Never padded nor cut into one."""

    code = "invalid_insee_code"
    http_status = 400


class AlreadyOnboarded(RegistryError):
    code = "already_onboarded"
    http_status = 409


class InvalidDomain(RegistryError):
    code = "invalid_domain"


class ReservedDomain(InvalidDomain):
    """A host the platform serves itself (console, portal, identity provider…)."""

    code = "reserved_domain"


class DomainTaken(RegistryError):
    code = "domain_taken"
    http_status = 409


class UnknownEpci(RegistryError):
    code = "unknown_epci"
    http_status = 404


class UnknownModule(RegistryError):
    code = "unknown_module"


class NoModule(UnknownModule):
    """A commune without any module would silently drop out of billing."""

    code = "no_module"


class InvalidReason(RegistryError):
    code = "invalid_reason"


class UnknownCommune(RegistryError):
    code = "unknown_commune"
    http_status = 404


class InvalidState(RegistryError):
    code = "invalid_state"
    http_status = 409


class ExportFailed(RegistryError):
    code = "export_failed"
    http_status = 500


class UnknownDatabase(RegistryError):
    code = "unknown_database"


class InvalidBillingIdentifier(RegistryError):
    """A SIRET, service code or engagement number Chorus Pro would not take."""

    code = "invalid_billing_identifier"
