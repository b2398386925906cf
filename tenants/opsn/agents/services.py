"""Service credentials of the commune's business software: issued (the secret shown once),
recognised by the commune's API, revoked. Run inside the commune's schema: a credential
belongs to one commune, and a secret presented under another commune's domain is simply
not found there."""

from __future__ import annotations

import datetime
import re

from django.db import IntegrityError
from django.utils import timezone

from opsn.agents.models import ServiceCredential
from opsn.audit.events import CredentialIssued, CredentialRevoked
from opsn.audit.services import record
from opsn.kernel.actors import Actor
from opsn.kernel.credentials import hash_secret, new_secret
from opsn.kernel.errors import DomainError
from opsn.kernel.tenancy import atomic, commune_connection

PREFIX = "opsn_c_"  # tells a commune's secret from an operator token (``opsn_…``) at a glance
NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?")
# last_used_at is a hint for the administrator, not a log: writing it on every request
# would add a write to every call of a busy API.
LAST_USED_PRECISION = datetime.timedelta(minutes=1)


class CredentialError(DomainError):
    """A credential that cannot be issued or revoked; ``message`` says why, in French;
    ``http_status`` 400 (bad input) or 409 (already there, already revoked)."""

    code = "credential_refused"

    def __init__(self, message: str, *, http_status: int = 400):
        super().__init__(message)
        self.http_status = http_status


def service_actor(credential: ServiceCredential, ip: str = "") -> Actor:
    """Who acts when the credential calls the API (the ledger and the audit log say it)."""
    return Actor(account=credential.account, name=credential.display_name, ip=ip,
                 kind="service")


@atomic
def service_credential_issue(*, name: str, actor: Actor) -> tuple[ServiceCredential, str]:
    """A new credential and its secret, which is not stored and cannot be shown again."""
    name = (name or "").strip().lower()
    if not NAME.fullmatch(name):
        raise CredentialError(f"« {name} » : le nom du logiciel s'écrit en minuscules, chiffres "
                              "et tirets (60 caractères au plus), par exemple cantine-ecoles.")
    if ServiceCredential.objects.filter(name=name).exists():
        # A revoked name is not reused: the ledger's ``service:<name>`` must name one
        # credential for ever.
        raise CredentialError(f"Un accès nommé « {name} » existe déjà dans la commune : "
                              "choisissez un autre nom.", http_status=409)
    raw, key_hash = new_secret(PREFIX)
    try:
        with atomic():
            credential = ServiceCredential.objects.create(name=name, key_hash=key_hash,
                                                          created_by=actor.account)
    except IntegrityError:  # issued at the same moment by someone else
        raise CredentialError(f"Un accès nommé « {name} » existe déjà dans la commune.",
                              http_status=409) from None
    record(actor, CredentialIssued(target=f"credential:{credential.pk}", data={"name": name}))
    return credential, raw


@atomic
def service_credential_revoke(*, credential: ServiceCredential,
                              actor: Actor) -> ServiceCredential:
    """From now on the secret is refused (401). Its appointments are left as they are:
    the audit trail keeps who collected what."""
    credential = ServiceCredential.objects.select_for_update().get(pk=credential.pk)
    if credential.revoked_at is not None:
        raise CredentialError(f"L'accès « {credential.name} » est déjà révoqué depuis le "
                              f"{timezone.localtime(credential.revoked_at):%d/%m/%Y à %H:%M}.",
                              http_status=409)
    credential.revoked_at = timezone.now()
    credential.save(update_fields=["revoked_at"])
    record(actor, CredentialRevoked(target=f"credential:{credential.pk}",
                                    data={"name": credential.name}))
    return credential


def service_credential_authenticate(raw: str) -> ServiceCredential | None:
    """The live credential whose secret is ``raw``, or None. The secret is found by its
    hash (an index lookup), never compared in clear."""
    if not raw.startswith(PREFIX):
        return None
    # Every call of the API asks: one indexed lookup, without the ORM's query compiler.
    with commune_connection().cursor() as cursor:
        cursor.execute("SELECT id, name, last_used_at FROM agents_servicecredential "
                       "WHERE key_hash = %s AND revoked_at IS NULL", [hash_secret(raw)])
        row = cursor.fetchone()
    if row is None:
        return None
    credential = ServiceCredential.from_db(commune_connection().alias,
                                           ["id", "name", "last_used_at"], row)
    now = timezone.now()
    if credential.last_used_at is None or now - credential.last_used_at >= LAST_USED_PRECISION:
        ServiceCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
        credential.last_used_at = now
    return credential
