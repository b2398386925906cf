"""What online payment refuses, with a stable code, an HTTP status and a French message."""

from opsn.kernel.errors import DomainError


class OnlinePaymentError(DomainError):
    pass


class NotPayableOnline(OnlinePaymentError):
    code = "not_payable_online"
    http_status = 409


class UnknownPayment(OnlinePaymentError):
    code = "unknown_payment"
    http_status = 404


class ProviderUnavailable(OnlinePaymentError):
    """PayFiP did not answer, or answered with an error we cannot act on."""

    code = "provider_unavailable"
    http_status = 502


class WrongReference(OnlinePaymentError):
    """« Payer une facture »: no invoice has this number with this code. The same answer
    whether the number is unknown or the code wrong (nothing of the invoice is said)."""

    code = "wrong_reference"
    http_status = 404


class TooManyTries(OnlinePaymentError):
    """« Payer une facture »: too many wrong codes, from the address or for the number."""

    code = "too_many_attempts"
    http_status = 429


class BadRequest(OnlinePaymentError):
    """What the family typed cannot be used (an empty field, an address that is none)."""

    code = "invalid"
    http_status = 400
