"""Benchmark of the invoice documents (issue 16, "Speed"): a monthly canteen run of a
commune of 60,000 inhabitants, 5,000 invoices issued with their PDF documents; target
≤ 2 minutes end to end (≥ 40 documents/s) on a 2-core machine.

Every figure is printed with its ratio to the baseline measured in the same run: the
current receipt renderer (``regies.documents.receipt_pdf``), one document at a time.
Measured: the invoice (Typst, docs/decisions/0012) with a renderer built for each document
(the commune's branding read each time); the renderer kept from one invoice to the next,
in one process; the e-mail job's work per invoice (render, attach, send, record; locmem
backend); and the whole run — ``invoices_issue`` of the 5,000 invoices in one
transaction, then the batch job (``document_batch_run``: read the database in chunks,
typeset 250 invoices a document in ``OPSN_DOCUMENT_WORKERS`` processes, merge into one PDF
to print) — and the same batch job in one process.

Called by bench/run.py; runs inside the first commune."""

from __future__ import annotations

import datetime
import os
import tempfile
import time
from decimal import Decimal
from pathlib import Path

SAMPLE = 40  # documents timed one at a time (baselines)
KEPT = 200  # documents timed with the renderer kept


def line(label: str, value: str, ratio: str = "") -> None:
    print(f"  {label:<58} {value:>14}  {ratio}")


def _setup(commune):
    from opsn.branding.models import CommuneProfile
    from opsn.kernel.actors import Actor
    from opsn.regies.models import Assignment, Payer, Regie

    CommuneProfile.objects.update(
        official_name=f"Ville de {commune.name}", address_line="1 place de la Mairie",
        postal_code="69000", city=commune.name, phone="04 00 00 00 00",
        email="regies@mairie.example.fr", siret="21690259300005")
    regie = Regie.objects.create(
        number="BENCH-DOC", name="Restauration scolaire",
        accepted_modes=["cash", "cheque", "card", "transfer", "online"],
        cash_limit=Decimal("5000"), starts_on=datetime.date(2020, 1, 1),
        accountant="SGC de mesure", founding_act="arrêté n° 2020-1 du 2 janvier 2020",
        iban="FR7630001007941234567890185", counter_hours="lundi à vendredi, 8 h 30 – 12 h")
    actor = Actor(account="regisseur@bench", name="Régisseur de mesure")
    Assignment.objects.create(regie=regie, account=actor.account, role="titulaire",
                              starts_on=datetime.date(2020, 1, 1), granted_by="bench")
    return regie, actor, Payer


def _drafts(regie, payers, count: int):
    from opsn.regies.services.invoicing import InvoiceDraft, line_draft

    issued = datetime.date(2026, 11, 30)
    start, end = datetime.date(2026, 11, 1), datetime.date(2026, 11, 30)
    return [InvoiceDraft(
        payer=payers[n % len(payers)], issued_on=issued,
        due_on=datetime.date(2026, 12, 31), label="Restauration scolaire de novembre",
        lines=[line_draft(label="Repas", quantity=str(10 + n % 9), unit_price="3.20",
                          beneficiary=f"Enfant {n}", period_start=start, period_end=end),
               line_draft(label="Accueil du soir", quantity=str(1 + n % 5), unit_price="2.10",
                          beneficiary=f"Enfant {n}", period_start=start, period_end=end)])
        for n in range(count)]


def _a_commune():
    """The first commune with its schema (one is onboarded on an empty registry)."""
    from opsn.communes import services
    from opsn.communes.models import Commune
    from opsn.referentiel.models import OfficialCommune

    commune = Commune.objects.filter(status=Commune.Status.ACTIVE).order_by("pk").first()
    if commune is None:
        code = (OfficialCommune.objects.filter(is_current=True).order_by("insee_code")
                .values_list("insee_code", flat=True).first())
        commune = services.commune_onboard(insee_code=code)
    return commune


def bench_invoice_documents(invoices: int = 5_000) -> None:
    from django.conf import settings
    from django.core import mail
    from django.test.utils import override_settings

    from opsn.kernel.tenancy import inside
    from opsn.regies.documents import receipt_pdf
    from opsn.regies.invoice_documents import Renderer, with_documents
    from opsn.regies.models import DocumentBatch, Invoice
    from opsn.regies.services.invoicing import invoices_issue
    from opsn.regies.services.mailing import invoice_mail_new
    from opsn.regies.services.payments import payment_record
    from opsn.regies.services.printing import document_batch_run

    settings.OPSN_EXPORT_DIR = Path(tempfile.mkdtemp(prefix="opsn-bench-exports-"))
    workers = settings.OPSN_DOCUMENT_WORKERS
    commune = _a_commune()
    print(f"\n11. Invoice documents: {invoices:,} invoices issued with their PDF "
          f"(PDF/UA), {os.cpu_count()} cores, {workers} rendering process(es)")
    with inside(commune):
        regie, actor, payer_model = _setup(commune)
        payers = payer_model.objects.bulk_create([
            payer_model(regie=regie, name=f"Famille {n}", address_line=f"{n} rue de la Paix",
                        postal_code="69000", city=commune.name, link_code=f"BD{n:012d}")
            for n in range(invoices // 2)], batch_size=5000)

        # Baseline: the receipt renderer, one document at a time.
        sample = invoices_issue(regie=regie, actor=actor, drafts=_drafts(regie, payers, SAMPLE))
        entries = [payment_record(regie=regie, actor=actor, amount=Decimal("5.00"),
                                  mode="cash", payer=i.payer, invoices=[i]) for i in sample]
        receipt_pdf(entries[0])  # WeasyPrint loaded
        started = time.perf_counter()
        for entry in entries:
            receipt_pdf(entry)
        base = len(entries) / (time.perf_counter() - started)
        line(f"baseline: receipt_pdf, one document at a time ({SAMPLE} timed)",
             f"{base:.1f} docs/s", "1.00x")

        def ratio(rate: float) -> str:
            return f"{rate / base:.2f}x the receipt renderer"

        sample = list(with_documents(Invoice.objects.filter(pk__in=[i.pk for i in sample])))
        started = time.perf_counter()
        for invoice in sample:
            Renderer().invoice_pdf(invoice)  # stylesheet and fonts built for each
        naive = len(sample) / (time.perf_counter() - started)
        line("invoice (Typst), a renderer per document", f"{naive:.1f} docs/s", ratio(naive))

        renderer = Renderer()
        kept_sample = (sample * (KEPT // len(sample) + 1))[:KEPT]
        started = time.perf_counter()
        for invoice in kept_sample:
            renderer.invoice_pdf(invoice)
        kept = len(kept_sample) / (time.perf_counter() - started)
        line("invoice (Typst), renderer kept, 1 process",
             f"{kept:.1f} docs/s", ratio(kept))

        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            mail.outbox = []
            for invoice in sample:
                invoice.payer.email = "famille@example.fr"
            started = time.perf_counter()
            for invoice in sample:
                invoice_mail_new(invoice=invoice, actor=actor, renderer=renderer)
            mailed = len(sample) / (time.perf_counter() - started)
            assert len(mail.outbox) == len(sample)
        line("e-mail job per invoice (render, attach, send, record), 1 process",
             f"{mailed:.1f} docs/s", f"{ratio(mailed)}; × worker processes")

        # The monthly run, end to end.
        started = time.perf_counter()
        issued = invoices_issue(regie=regie, actor=actor,
                                drafts=_drafts(regie, payers, invoices))
        issuing = time.perf_counter() - started
        line(f"invoices_issue: {len(issued):,} invoices, one transaction", f"{issuing:.1f} s",
             f"{len(issued) / issuing:,.0f} invoices/s")
        batch = DocumentBatch.objects.create(regie=regie, month=datetime.date(2026, 11, 1),
                                             total=len(issued) + SAMPLE,
                                             requested_by=actor.account)
        started = time.perf_counter()
        path = document_batch_run(batch, workers=workers)
        printing = time.perf_counter() - started
        batch.refresh_from_db()
        rate = batch.done / printing
        line(f"batch job: {batch.done:,} invoices, {workers} processes, one PDF "
             f"({path.stat().st_size / 1e6:.0f} MB)", f"{printing:.1f} s",
             f"{rate:.1f} docs/s; {ratio(rate)}")
        one = DocumentBatch.objects.create(regie=regie, month=datetime.date(2026, 11, 1),
                                           total=batch.done, requested_by=actor.account)
        started = time.perf_counter()
        document_batch_run(one, workers=1)
        alone = time.perf_counter() - started
        line(f"the same batch job in 1 process ({batch.done:,} invoices)", f"{alone:.1f} s",
             f"{batch.done / alone:.1f} docs/s; {ratio(batch.done / alone)}")
        total = issuing + printing
        overall = len(issued) / total
        line(f"issuing {len(issued):,} invoices with their PDFs, end to end",
             f"{total:.1f} s", f"{overall:.1f} docs/s (target ≥ 40, ≤ 120 s); "
             f"{ratio(overall)}")
