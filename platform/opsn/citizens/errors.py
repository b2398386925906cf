"""What the citizen's space refuses, with a stable code and a French message."""

from opsn.kernel.errors import DomainError


class CitizenError(DomainError):
    pass


class WrongCode(CitizenError):
    code = "wrong_code"
    http_status = 404


class TooManyAttempts(CitizenError):
    code = "too_many_attempts"
    http_status = 429


class NotLinked(CitizenError):
    code = "not_linked"
    http_status = 404


class NotYours(CitizenError):
    """The invoice or payment is not one of a payer linked to the person."""

    code = "not_yours"
    http_status = 403
