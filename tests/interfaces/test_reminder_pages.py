"""Reminders as their users see them: the régie's « Relances » page (its schedule, refused
in French when wrong; the letters to print as one PDF, marked printed), the invoice's page
(its reminders, marking it contested with a reason) and the family's « Mes paiements »."""

from __future__ import annotations

import datetime
import html

import pytest
from django.core import mail
from django.utils import timezone

from opsn.finance.models import InvoiceContest, ReminderLetterBatch
from opsn.finance.reminders import reminders_send
from opsn.kernel.actors import Actor
from opsn.regies.invoice_documents import Renderer
from opsn.regies.services import invoicing
from tests.helpers.citizens import family_books
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import Browser, make_account
from tests.helpers.regies import ADMIN, TITULAIRE, make_payer, make_regie
from tests.interfaces.test_finance_pages import browser, text_of

BASE = "/espace/regies/R-001"
SYSTEM = Actor.system("relances des factures impayées")


@pytest.fixture
def regie_with_letter(venissieux):
    """A payer without e-mail, 20 days late, reminded by letter."""
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie, "Famille Diallo", address_line="8 place Léon Sublet",
                           postal_code="69200", city="Vénissieux")
        due = timezone.localdate() - datetime.timedelta(days=20)
        invoice = invoicing.invoice_issue(
            regie=regie, actor=ADMIN, payer=payer, number="F-D", issued_on=due, due_on=due,
            lines=[invoicing.line_draft(label="Repas", unit_price="12.30")])
        reminders_send(regie=regie, actor=SYSTEM, renderer=Renderer())
        return regie, invoice


def test_the_titulaire_sets_the_schedule_downloads_the_letters_and_marks_them_printed(
        venissieux, regie_with_letter, django_app):
    regie, _invoice = regie_with_letter
    app = browser(django_app, venissieux, TITULAIRE.account)
    page = app.get(f"{BASE}/relances/")
    text = text_of(page)
    assert "relances 15 jours et 30 jours après l'échéance (calendrier par défaut)" in text
    assert "F-D" in text and "courrier à imprimer" in text
    form = next(f for f in page.forms.values() if f.action.endswith("/relances/"))
    form["first"], form["second"] = "30", "20"
    refused = form.submit(status=400)
    assert ("La deuxième relance doit venir après la première (30 jours après l'échéance)"
            in text_of(refused))
    assert refused.html.find(id="relance-second")["aria-invalid"] == "true"
    form = next(f for f in refused.forms.values() if f.action.endswith("/relances/"))
    form["first"], form["second"], form["third"] = "10", "25", "60"
    saved = form.submit().follow()
    assert "Relances enregistrées : relances 10 jours, 25 jours et 60 jours" in text_of(saved)
    with in_schema(venissieux):
        [batch] = ReminderLetterBatch.objects.filter(regie=regie)
    pdf = saved.click(href=f"/relances/courriers/{batch.pk}/relances.pdf")
    assert pdf.content_type == "application/pdf" and pdf.body.startswith(b"%PDF")
    done = next(f for f in saved.forms.values() if f.action.endswith("/imprimes/"))
    after = done.submit().follow()
    assert "imprimés le" in text_of(after)
    for table in after.html.select("div.table-wrap"):
        assert table["tabindex"] == "0"


def test_the_invoice_page_shows_its_reminders_and_an_agent_marks_it_contested(
        venissieux, regie_with_letter, django_app):
    _regie, invoice = regie_with_letter
    app = browser(django_app, venissieux, TITULAIRE.account)
    url = f"{BASE}/payeurs/{invoice.payer_id}/factures/{invoice.pk}/"
    page = app.get(url)
    assert "Relance n° 1 du" in text_of(page) and "courrier à imprimer" in text_of(page)
    form = next(f for f in page.forms.values() if f.action.endswith("/contestation/"))
    form["reason"] = "   "
    assert "Indiquez le motif de la contestation." in text_of(form.submit().follow())
    form["reason"] = "Repas non pris (absence)"
    contested = form.submit().follow()
    assert "Facture contestée" in text_of(contested)
    assert "Repas non pris (absence)" in text_of(contested)
    with in_schema(venissieux):
        assert InvoiceContest.objects.get(invoice=invoice).contested_by == TITULAIRE.account


def test_the_family_sees_the_reminder_in_mes_paiements(venissieux, vaulx):
    books = family_books(venissieux, vaulx)
    _, martin, november, canteen = books["venissieux"]
    with in_schema(venissieux):
        mail.outbox.clear()
        counts = reminders_send(regie=canteen, actor=SYSTEM,
                                on=november.due_on + datetime.timedelta(days=16),
                                renderer=Renderer())
    assert counts["sent"] >= 1
    citizen = "camille.durand@citoyen.test"
    make_account(citizen)
    client = Browser()
    client.sign_in(host_of(venissieux), citizen)
    answer = client.client(host_of(venissieux)).post("/mon-espace/rattachements/",
                                                     {"code": martin.link_code})
    assert answer.status_code == 302
    page = html.unescape(client.client(host_of(venissieux)).get("/mon-espace/")
                         .content.decode())
    day = november.due_on + datetime.timedelta(days=16)
    assert f"Relance n° 1 du {day:%d/%m/%Y} par courriel" in page
