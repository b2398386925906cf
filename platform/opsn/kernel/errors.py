"""The shape every domain's refusals share: a stable ``code`` (the APIs return it, the
command line maps it to an exit status), an HTTP status, a French message that says what
is wrong, and the input at fault (``field``) when there is one. Each domain derives its
own base (``RegistryError``, ``RegieError``, ``CitizenError``, ``OnlinePaymentError``)."""

from __future__ import annotations


class DomainError(Exception):
    code = "invalid"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class CommuneReadOnly(DomainError):
    """The commune is being moved to another database: pages are read, writes wait."""

    code = "commune_read_only"
    http_status = 503

    @classmethod
    def for_commune(cls, commune) -> CommuneReadOnly:
        return cls(f"{commune.name} est en lecture seule le temps d'une opération de "
                   "maintenance (déplacement de ses données) : consultation possible, aucune "
                   "modification n'est enregistrée. Réessayez dans quelques minutes.")
