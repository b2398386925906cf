"""What the citizen's space refuses, with a stable code and a French message."""


class CitizenError(Exception):
    code = "invalid"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


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
