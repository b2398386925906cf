"""Printing invoices in batches: all the invoices of an import, or of a month, as one PDF,
made by a background job that says how far it has got. Run inside the commune's schema."""

from __future__ import annotations

import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from opsn.audit import events
from opsn.audit.services import record
from opsn.kernel.actors import Actor
from opsn.kernel.tenancy import atomic, commune_connection
from opsn.regies.errors import NotFound, RegieError
from opsn.regies.invoice_documents import Renderer, merged, render_batches, with_documents
from opsn.regies.models import BatchStatus, DocumentBatch, ImportBatch, Invoice, Regie

PROGRESS_EVERY = 250  # invoices typeset as one document, between two updates of the bar


def batch_invoices(batch: DocumentBatch):
    """The invoices a batch prints, in the order of their numbers (cancelled ones too:
    the document says so)."""
    invoices = Invoice.objects.filter(regie=batch.regie_id)
    if batch.month is not None:
        end = (batch.month + datetime.timedelta(days=32)).replace(day=1)
        invoices = invoices.filter(issued_on__gte=batch.month, issued_on__lt=end)
    else:
        invoices = invoices.filter(import_batch=batch.import_batch_id)
    return invoices.order_by("number")


def month_of(value: str) -> datetime.date:
    """« 2026-11 » (what <input type=month> sends) or « 11/2026 »: the month's first day."""
    text = (value or "").strip()
    for fmt in ("%Y-%m", "%m/%Y"):
        try:
            return datetime.datetime.strptime(text, fmt).date().replace(day=1)
        except ValueError:
            continue
    raise RegieError("Indiquez le mois au format AAAA-MM (par exemple 2026-11).", field="month")


@atomic
def document_batch_request(*, regie: Regie, actor: Actor, import_batch: ImportBatch | None = None,
                           month: datetime.date | None = None) -> DocumentBatch:
    """Ask for the PDF of a batch; the job ``regies.tasks.print_invoices`` makes it (the
    interface sends it, with the returned batch's id, once this has committed)."""
    if (import_batch is None) == (month is None):
        raise RegieError("Choisissez un import ou un mois.", field="month")
    if import_batch is not None and import_batch.regie_id != regie.pk:
        raise NotFound("Cet import n'est pas un import de la régie.")
    batch = DocumentBatch(regie=regie, import_batch=import_batch, month=month,
                          requested_by=actor.account)
    batch.total = batch_invoices(batch).count()
    if not batch.total:
        raise RegieError("Aucune facture à imprimer pour ce choix.", field="month")
    batch.save()
    what = (f"import « {import_batch.file_name} »" if import_batch is not None
            else f"factures de {month:%m/%Y}")
    record(actor, events.InvoicesPrinted(target=f"regie:{regie.pk}", data={
        "regie": regie.number, "what": f"{what}, {batch.total} facture(s)"}))
    return batch


def batch_path(batch: DocumentBatch) -> Path:
    return (Path(settings.OPSN_EXPORT_DIR) / commune_connection().schema_name / "factures"
            / f"lot-{batch.pk}.pdf")


def document_batch_run(batch: DocumentBatch, *, workers: int | None = None) -> Path:
    """Typeset every invoice of the batch (a document per 250 invoices, several
    processes), keep the progress on the batch's row as it goes (each update commits: the
    page reads it), and write one PDF to print. A batch already made is not made again."""
    if batch.status == BatchStatus.DONE and batch_path(batch).is_file():
        return batch_path(batch)
    workers = workers or settings.OPSN_DOCUMENT_WORKERS
    DocumentBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING, done=0,
                                                     error="")
    pdfs: list[bytes] = []
    done = 0
    try:
        invoices = with_documents(batch_invoices(batch)).iterator(chunk_size=PROGRESS_EVERY)
        for count, pdf in render_batches(Renderer(), invoices, workers=workers,
                                         chunk=PROGRESS_EVERY):
            pdfs.append(pdf)
            done += count
            DocumentBatch.objects.filter(pk=batch.pk).update(done=done)
        path = batch_path(batch)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(merged(pdfs))
        partial.rename(path)  # never a half-written file under the final name
    except Exception as exc:
        DocumentBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.FAILED, error=str(exc)[:500], finished_at=timezone.now())
        raise
    DocumentBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.DONE, done=done, total=done, file_name=path.name,
        finished_at=timezone.now())
    return path
