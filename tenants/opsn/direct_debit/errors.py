"""What SEPA direct debit refuses: an ICS, IBAN or BIC whose check fails, a mandate that
cannot be used, a collection that would debit an invoice twice. French messages, with the
field at fault."""

from __future__ import annotations

from opsn.kernel.errors import DomainError


class DirectDebitError(DomainError, ValueError):
    """``line``: the line of an imported file (a bank's return report) at fault."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None):
        super().__init__(message, field=field)
        self.line = line

    def __str__(self) -> str:
        return f"Ligne {self.line} : {self.message}" if self.line else self.message


class DirectDebitNotFound(DirectDebitError):
    code = "not_found"
    http_status = 404


class DirectDebitConflict(DirectDebitError):
    code = "conflict"
    http_status = 409
