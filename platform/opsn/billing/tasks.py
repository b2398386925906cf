"""The yearly run as dramatiq jobs, with progress the console shows."""

from __future__ import annotations

import dramatiq
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from opsn.billing import documents
from opsn.billing.computation import BillingError
from opsn.billing.issuing import billing_issue
from opsn.billing.models import BillingJob, BillingRun, Invoice, is_overdue, sending_reminder

DOCUMENTS_CHUNK = 25


@dramatiq.actor(max_retries=3, min_backoff=2_000)
def issue_year(job_id: int) -> None:
    """Issue the year (one atomic transaction), then write its Factur-X files. A retry
    after the issue committed goes straight to the files: nothing is issued twice."""

    job = BillingJob.objects.get(pk=job_id)
    job.status, job.step = BillingJob.Status.RUNNING, "calcul et émission des titres"
    job.save(update_fields=["status", "step"])
    run = BillingRun.objects.filter(year=job.year).first() if job.run_id is None else job.run
    if run is None:
        try:
            run = billing_issue(year=job.year)
        except BillingError as exc:  # the data is wrong: retrying will not help
            job.status, job.error = BillingJob.Status.FAILED, str(exc)
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "error", "finished_at"])
            return
    job.run = run
    job.step = f"PDF Factur-X des {run.invoices} titres"
    job.save(update_fields=["run", "step"])
    invoices = list(Invoice.objects.filter(run=run).order_by("number"))
    for start in range(0, len(invoices), DOCUMENTS_CHUNK):
        documents.generate_documents(invoices[start:start + DOCUMENTS_CHUNK])
        BillingRun.objects.filter(pk=run.pk).update(
            documents_done=min(len(invoices), start + DOCUMENTS_CHUNK))
    job.status, job.step = BillingJob.Status.DONE, "terminé"
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "step", "finished_at"])


@dramatiq.actor(max_retries=3)
def remind_billing_deadlines() -> None:
    """Daily: tell the operator which invoices are overdue and which are contested, and
    from 1 September that the year's titres must go out by 30 September."""

    overdue = [i for i in Invoice.objects.filter(status=Invoice.Status.SENT) if is_overdue(i)]
    contested = list(Invoice.objects.filter(status=Invoice.Status.CONTESTED))
    reminder = sending_reminder()
    if not overdue and not contested and not reminder:
        return
    lines = [f"À faire : {reminder}", ""] if reminder else []
    lines += [f"- {i.number} {i.commune_name} {i.total} € : échéance {i.due_on:%d/%m/%Y} "
              "dépassée" for i in overdue]
    lines += [f"- {i.number} {i.commune_name} : contesté — {i.contest_reason}"
              for i in contested]
    subject = (f"Facturation : {len(overdue)} titre(s) en retard, {len(contested)} "
               "contesté(s)") if overdue or contested else (
        "Facturation : les titres de l'année partent au plus tard le 30 septembre")
    send_mail(subject=subject,
              message="\n".join(lines), from_email=settings.DEFAULT_FROM_EMAIL,
              recipient_list=[settings.OPSN_OPERATOR["email"]])
