"""What a régie refuses, and why. Each error has a stable ``code`` (the API returns it),
an HTTP status, and a French message that says what is wrong; ``field`` names the input
at fault, ``line`` the line of an imported file."""

from __future__ import annotations

from opsn.kernel.errors import DomainError


class RegieError(DomainError, ValueError):
    def __init__(self, message: str, *, field: str | None = None, line: int | None = None):
        super().__init__(message, field=field)
        self.line = line

    def __str__(self) -> str:
        return f"Ligne {self.line} : {self.message}" if self.line else self.message


class NotAllowed(RegieError):
    """The agent may not do this in this régie (not assigned, not the titulaire…)."""

    code = "not_allowed"
    http_status = 403


class Refused(RegieError):
    """The régie's state refuses it now (closed day, maximum cash reached, régie closed)."""

    code = "refused"
    http_status = 409


class Duplicate(RegieError):
    """Already done: a payment already posted, a file already imported, a receipt already
    cancelled."""

    code = "duplicate"
    http_status = 409


class NotFound(RegieError):
    code = "not_found"
    http_status = 404
