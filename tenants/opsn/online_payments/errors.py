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
