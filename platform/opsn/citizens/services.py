"""Linking a person to payer records: with the link code printed on an invoice (used
once), or with the e-mail address the commune's record carries when the identity provider
has verified the same address. Codes typed are counted before they are checked
(``opsn.operations.throttle``): a few tries, then a wait, then a lock; each refusal leaves
a log line for the operator."""

from __future__ import annotations

import datetime
import hashlib
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from opsn.citizens.errors import CitizenError, NotLinked, TooManyAttempts, WrongCode
from opsn.citizens.models import LinkAttempt, LinkMethod, PayerLink
from opsn.communes.models import Commune
from opsn.kernel.addresses import address_key
from opsn.kernel.tenancy import inside
from opsn.operations import throttle
from opsn.regies.models import Payer
from opsn.regies.services.invoicing import normalise_link_code

logger = logging.getLogger("opsn.citizens")


def _who(subject: str) -> str:
    """The subject as the logs show it: enough to follow one person, not to name them."""
    return hashlib.sha256(subject.encode()).hexdigest()[:12]


def _link_limits(subject: str, ip: str) -> tuple[throttle.Limit, ...]:
    """The limits on link codes (``opsn.operations.throttle``, counted before each code is
    checked): a few per person within the window, then a wait; four times as many per
    address within the window; more per person in a day, then a lock for the day. The
    tightest first: a flood stopped by the window never reaches the day's count."""
    window = datetime.timedelta(minutes=settings.OPSN_LINK_WINDOW_MINUTES)
    return (
        throttle.Limit("link-code", subject, throttle.Rate(
            settings.OPSN_LINK_MAX_FAILURES, window)),
        throttle.Limit("link-code-address", address_key(ip), throttle.Rate(
            settings.OPSN_LINK_MAX_FAILURES * 4, window)),
        throttle.Limit("link-code-day", subject, throttle.Rate(
            settings.OPSN_LINK_LOCK_FAILURES, datetime.timedelta(days=1))),
    )


def _refused(refused: throttle.Refused, subject: str, ip: str) -> TooManyAttempts:
    until = timezone.localtime(refused.until)
    if refused.limit.scope == "link-code-day":
        logger.warning("link codes locked for subject %s after %d wrong codes in a day",
                       _who(subject), refused.count - 1)
        return TooManyAttempts(
            f"Rattachement par code bloqué jusqu'au {until:%d/%m/%Y à %H:%M} après "
            f"{refused.limit.rate.number} codes erronés. Si vous pensez qu'il s'agit d'une "
            "erreur, contactez la régie qui vous a envoyé la facture.")
    logger.warning("link codes paused for subject %s (ip %s): %s, %d attempts",
                   _who(subject), ip or "-", refused.limit.scope, refused.count)
    return TooManyAttempts(f"Trop de codes erronés : réessayez après {until:%H:%M}.")


def payer_link_by_code(*, subject: str, commune: Commune, code: str,
                       ip: str = "") -> PayerLink:
    """Link ``subject`` to the payer of ``commune`` whose invoice carries ``code``. A code
    links once: whoever else needs the same payer asks the régie for a new code. Called
    outside a transaction: the attempt is counted (atomically, before the code is
    checked) whatever follows."""

    if not subject:
        raise CitizenError("Connectez-vous pour rattacher une facture à votre compte.")
    typed = (code or "").strip()
    if not typed:
        raise CitizenError("Saisissez le code de rattachement imprimé sur votre facture.",
                           field="code")
    limits = _link_limits(subject, ip)
    refused = throttle.take(*limits)
    if refused is not None:
        raise _refused(refused, subject, ip)
    with inside(commune):
        payer = (Payer.objects.filter(link_code=normalise_link_code(typed))
                 .values("id", "name").first())
    # The record of each code typed, right or wrong (the counters decide, this tells).
    LinkAttempt.objects.create(subject=subject, commune=commune, succeeded=payer is not None,
                               ip=ip or None)
    if payer is None:
        logger.warning("wrong link code for %s from subject %s (ip %s)", commune.insee_code,
                       _who(subject), ip or "-")
        raise WrongCode(f"Aucun payeur de {commune.name} n'a le code « {typed} ». Vérifiez "
                        "le code et la commune indiqués sur votre facture.", field="code")
    throttle.give_back(*limits)  # a right code is not a guess
    with transaction.atomic():
        links = PayerLink.objects.select_for_update().filter(
            commune=commune, payer_id=payer["id"], unlinked_at__isnull=True)
        if links.filter(subject=subject).exists():
            raise CitizenError(f"{payer['name']} ({commune.name}) est déjà rattaché à votre "
                               "compte.", field="code")
        if links.filter(method=LinkMethod.CODE).exists():
            logger.warning("reused link code for %s payer %s from subject %s", commune.insee_code,
                           payer["id"], _who(subject))
            raise CitizenError("Ce code a déjà servi à rattacher ce payeur à un compte. "
                               "Demandez un nouveau code à la régie.", field="code")
        return PayerLink.objects.create(subject=subject, commune=commune,
                                        payer_id=payer["id"], payer_name=payer["name"],
                                        method=LinkMethod.CODE)


def payers_with_email(commune: Commune, verified_email: str) -> list[dict]:
    """The payer records of ``commune`` that carry this (verified) address."""

    email = (verified_email or "").strip().lower()
    if not email:
        return []
    with inside(commune):
        return [{"id": p["id"], "name": p["name"]}
                for p in Payer.objects.filter(email__iexact=email).values("id", "name")]


@transaction.atomic
def payer_link_by_email(*, subject: str, commune: Commune, payer_id: int,
                        verified_email: str) -> PayerLink:
    """The person confirmed that this record, which carries their verified address, is
    theirs."""
    found = {p["id"]: p for p in payers_with_email(commune, verified_email)}
    payer = found.get(payer_id)
    if payer is None:
        raise NotLinked(f"Aucun payeur de {commune.name} ne porte votre adresse "
                        "électronique vérifiée.")
    link, created = PayerLink.objects.get_or_create(
        subject=subject, commune=commune, payer_id=payer_id, unlinked_at__isnull=True,
        defaults={"payer_name": payer["name"], "method": LinkMethod.EMAIL})
    if not created:
        raise CitizenError(f"{payer['name']} ({commune.name}) est déjà rattaché à votre compte.")
    return link


@transaction.atomic
def payer_unlink(*, subject: str, link_id: int) -> PayerLink:
    link = PayerLink.objects.select_for_update().filter(
        pk=link_id, subject=subject, unlinked_at__isnull=True).first()
    if link is None:
        raise NotLinked("Ce rattachement n'existe pas ou a déjà été retiré.")
    link.unlinked_at = timezone.now()
    link.save(update_fields=["unlinked_at"])
    return link


def links_of(subject: str) -> list[PayerLink]:
    return list(PayerLink.objects.filter(subject=subject, unlinked_at__isnull=True)
                .select_related("commune").order_by("commune__name", "payer_name"))
