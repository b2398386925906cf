"""What the commune's finance data refuses: a budget identity PES could not carry, an
imputation outside the plan of accounts, an M57 file that cannot be read. French messages,
with the field (and the file's line) at fault."""

from __future__ import annotations

from opsn.kernel.errors import DomainError


class FinanceError(DomainError, ValueError):
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None):
        super().__init__(message, field=field)
        self.line = line

    def __str__(self) -> str:
        return f"Ligne {self.line} : {self.message}" if self.line else self.message


class FinanceNotFound(FinanceError):
    code = "not_found"
    http_status = 404


class FinanceNotAllowed(FinanceError):
    code = "not_allowed"
    http_status = 403
