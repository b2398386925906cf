"""The régies' background jobs. The daily retention of payers' personal data
(``pseudonymise_commune_payers``, fanned out by ``opsn.citizens.tasks``, which knows the
payers linked to citizens' accounts). The daily warnings (``jobs.periodic``): one job fans out
one job per commune, each of which runs inside its commune's schema (the message carries
it) and e-mails the keepers of its régies that must deposit now. New invoices e-mailed to
their payers (once each), and batches of invoices printed as one PDF."""

from __future__ import annotations

import logging

import dramatiq
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from opsn.branding.selectors import payer_retention_years
from opsn.jobs.broker import send
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import current_commune, on_commit
from opsn.regies.models import DocumentBatch, Regie
from opsn.regies.services.erasure import payers_pseudonymise
from opsn.regies.services.mailing import invoices_mail_new, regie_warnings_send
from opsn.regies.services.printing import document_batch_run
from opsn.regies.signals import invoices_issued

logger = logging.getLogger("opsn.regies")
ACTOR = Actor.system("alertes des régies")
MAILER = Actor.system("envoi des factures")
MAIL_CHUNK = 100  # invoices per e-mail job: several jobs share the workers


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def warn_regies() -> None:
    """Daily: one job per active commune that subscribes to the régies (a commune that
    does not has none to warn about; a suspended one is not served)."""

    for commune in tenancy.communes().active_with("regies"):
        send(warn_commune_regies, commune=commune)


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def warn_commune_regies() -> None:
    """Inside one commune's schema: e-mail each open régie's keepers its overdue deposit
    or its maximum cash reached. Idempotent per day (``regie_warnings_send``): a retry
    sends only what did not go. One régie that fails does not keep the others waiting;
    the job fails after them, to be retried."""

    if current_commune() is None:
        raise RuntimeError("warn_commune_regies runs inside a commune: send(…, commune=…)")
    today = timezone.localdate()
    failed = []
    for regie in Regie.objects.filter(starts_on__lte=today).filter(
            Q(ends_on__isnull=True) | Q(ends_on__gt=today)).order_by("number"):
        try:
            sent = regie_warnings_send(regie=regie, actor=ACTOR)
        except Exception:
            logger.exception("régie %s: warnings not sent", regie.number)
            failed.append(regie.number)
            continue
        if sent:
            logger.info("régie %s: warnings %s sent", regie.number, sent)
    if failed:
        raise RuntimeError(f"warnings not sent for the régies {', '.join(failed)}")


def _in_commune(job: str) -> None:
    if current_commune() is None:
        raise RuntimeError(f"{job} runs inside a commune: send(…, commune=…)")


@dramatiq.actor(max_retries=3, min_backoff=300_000, time_limit=3_600_000)
def mail_new_invoices(invoice_ids: list[int]) -> None:
    """Inside one commune: e-mail each new invoice to its payer with its PDF, once
    (``mailing.invoice_mail_new``). A failure is kept on the invoice for the agents; the
    job then fails, to be retried later, and a retry sends only what did not go."""
    _in_commune("mail_new_invoices")
    counts = invoices_mail_new(invoice_ids, MAILER)
    logger.info("invoices e-mailed: %s", counts)
    if counts["failed"]:
        raise RuntimeError(f"{counts['failed']} invoice e-mail(s) not sent")


@receiver(invoices_issued, dispatch_uid="regies.mail_new_invoices")
def _mail_new_invoices(sender, invoices, **kwargs) -> None:
    """Once the invoices are committed: one job per hundred of them whose payer has an
    address and did not refuse e-mails."""
    ids = [i.pk for i in invoices if i.payer.email and i.payer.invoices_by_email]
    commune = current_commune()
    if not ids or commune is None:
        return

    def enqueue() -> None:
        for start in range(0, len(ids), MAIL_CHUNK):
            send(mail_new_invoices, ids[start:start + MAIL_CHUNK], commune=commune)

    on_commit(enqueue)


@dramatiq.actor(max_retries=1, time_limit=3_600_000)
def print_invoices(batch_id: int) -> None:
    """Inside one commune: the PDF of a batch of invoices, its progress on the batch."""
    _in_commune("print_invoices")
    document_batch_run(DocumentBatch.objects.get(pk=batch_id))


RETENTION_ACTOR = Actor.system("conservation des données des payeurs")


@dramatiq.actor(max_retries=3, min_backoff=60_000)
def pseudonymise_commune_payers(linked: list[int]) -> None:
    """Inside one commune's schema: pseudonymise the payers past the commune's retention
    period, except ``linked`` (its payers linked to a citizen's account). Idempotent."""

    commune = current_commune()
    if commune is None:
        raise RuntimeError("pseudonymise_commune_payers runs inside a commune: "
                           "send(…, commune=…)")
    done = payers_pseudonymise(actor=RETENTION_ACTOR, years=payer_retention_years(),
                               linked=linked)
    if done:
        logger.info("%s payers pseudonymised in %s", done, commune.schema_name)
