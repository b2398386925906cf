"""What SEPA direct debit refuses: an ICS, IBAN or BIC whose check fails, a mandate that
cannot be used, a collection that would debit an invoice twice. French messages, with the
field at fault."""

from __future__ import annotations

from opsn.kernel.errors import DomainError


class DirectDebitError(DomainError, ValueError):
    code = "invalid"


class DirectDebitNotFound(DirectDebitError):
    code = "not_found"
    http_status = 404


class DirectDebitConflict(DirectDebitError):
    code = "conflict"
    http_status = 409
