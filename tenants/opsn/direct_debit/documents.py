"""The PDF of a signed mandate, typeset by Typst like the invoices (one renderer for the
new documents, docs/decisions/0016-invoice-documents.md), with the commune's branding.
Run inside the commune's schema."""

from __future__ import annotations

import datetime
from pathlib import Path

from django.utils import timezone

from opsn.direct_debit.models import Creditor, Mandate
from opsn.direct_debit.wording import TITLE, kind_text, mandate_text
from opsn.regies.invoice_documents import Renderer
from opsn.regies.typesetting import typeset

TEMPLATE = str(Path(__file__).resolve().parent / "typst" / "mandate.typ")


def mandate_pdf(mandate: Mandate, creditor: Creditor, *, signed_at: datetime.datetime,
                signer: str) -> bytes:
    renderer = Renderer()
    when = timezone.localtime(signed_at)
    data = {
        **renderer._common(mandate.regie, mandate.payer),  # the invoices' header
        "title": TITLE,
        "wording": mandate_text(creditor.name),
        "creditor": {"name": creditor.name, "ics": creditor.ics},
        "mandate": {"rum": mandate.rum, "debtor_name": mandate.debtor_name,
                    "iban": mandate.iban_masked, "bic": mandate.bic},
        "kind": kind_text(mandate.kind),
        "signature": (f"Signé électroniquement le {when:%d/%m/%Y à %H:%M} par {signer}, "
                      "depuis son espace personnel « Mes paiements », après lecture du texte "
                      "ci-dessus et confirmation."),
    }
    return typeset(TEMPLATE, data)
