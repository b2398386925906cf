"""« Payer une facture » on the commune's site, without an account: the invoice number and
the code printed on it → what is owed → an optional address for the receipt → the local
PayFiP provider → back on the commune's site with the receipt. And every bad input: an
unknown number and a wrong code get the same answer and say nothing of the invoice;
guessing is paused per number and per address, and logged; a paid or cancelled invoice
says so (to whoever has its code only); the payment is recorded once, its receipt e-mailed
once, however many notifications come; nothing hostile ends in a 500."""

from __future__ import annotations

import datetime
import html
import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client

from opsn.branding.selectors import current_profile
from opsn.communes.models import Module
from opsn.online_payments import by_reference
from opsn.online_payments.models import OnlinePayment, PaymentState, ReferenceAttempt
from opsn.online_payments.services import online_payments_reconcile, payfip_configure
from opsn.payfip_local.models import Operation
from opsn.regies.models import EntrySource, LedgerEntry
from opsn.regies.services import invoicing, payments
from tests.helpers.communes import host_of, in_schema
from tests.helpers.identity import Browser
from tests.helpers.regies import ADMIN, MANDATAIRE, make_payer, make_regie

PROVIDER = "localhost"  # the portal, where the local provider serves its page
ONLINE_MODES = ["cash", "cheque", "card", "transfer", "other", "online"]
FAMILY_ADDRESS = "famille.durand@example.fr"  # on the payer's record: never shown
SAME_ANSWER = "Aucune facture à payer ne correspond à ce numéro et à ce code."


def text(response) -> str:
    return html.unescape(response.content.decode())


def issue(regie, payer, amount: str, number: str, label: str = "Cantine d'octobre"):
    return invoicing.invoice_issue(
        regie=regie, actor=ADMIN, payer=payer, number=number, label=label,
        lines=[invoicing.line_draft(label="Repas", unit_price=amount)],
        issued_on=datetime.date(2026, 10, 1), due_on=datetime.date(2026, 10, 31))


@pytest.fixture
def shop(venissieux):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=ONLINE_MODES)
        payfip_configure(regie=regie, actor=ADMIN, numcli="049836")
        family = make_payer(regie, "Famille Durand", email=FAMILY_ADDRESS,
                            address_line="12 rue des Tilleuls")
        invoice = issue(regie, family, "45.00", "CANT-2026-11")
        other = make_payer(regie, "Famille Martin")
        theirs = issue(regie, other, "20.00", "CANT-2026-12", label="Garderie")
    return SimpleNamespace(commune=venissieux, regie=regie, payer=family, invoice=invoice,
                           other=other, theirs=theirs, host=host_of(venissieux))


def visitor(shop, ip: str = "198.51.100.7") -> Client:
    return Client(HTTP_HOST=shop.host, REMOTE_ADDR=ip)


def ask(client: Client, number: str, code: str):
    return client.post("/payer/", {"number": number, "code": code})


def token_of(page) -> str:
    return re.search(r'name="token" value="([^"]+)"', page.content.decode())[1]


def start(client: Client, page, email: str = ""):
    """« Payer … avec PayFiP »: the provider's page, and the payment."""
    answer = client.post("/payer/paiement/", {"token": token_of(page), "email": email})
    assert answer.status_code == 302, text(answer)[:600]
    location = answer["Location"]
    assert urlsplit(location).hostname == PROVIDER
    return location, parse_qs(urlsplit(location).query)["idop"][0]


def choose(location: str, choice: str, browser: Browser | None = None):
    """On the provider's page, press a button; follows the browser back to the commune."""
    browser = browser or Browser()
    parts = urlsplit(location)
    return browser.go(f"{parts.path}?{parts.query}", host=PROVIDER,
                      data={"idop": parse_qs(parts.query)["idop"][0], "choix": choice})


def notify(shop, idop: str):
    return Client(HTTP_HOST=shop.host).post("/paiement-en-ligne/notification/",
                                            {"idOp": idop})


def online_entries(shop) -> list[LedgerEntry]:
    with in_schema(shop.commune):
        return list(LedgerEntry.objects.filter(source=EntrySource.ONLINE))


def test_a_family_without_an_account_pays_by_reference_and_gets_its_receipt(shop):
    client = visitor(shop)
    # The invoice's QR code leads here with its number.
    form = client.get("/payer/?facture=CANT-2026-11")
    assert form.status_code == 200 and 'value="CANT-2026-11"' in text(form)

    # Typed as people type: lower case, spaces, no dashes.
    owed = ask(client, " cant-2026-11 ", shop.payer.link_code.replace("-", "").lower())
    page = text(owed)
    assert owed.status_code == 200
    for shown in ("Facture n° CANT-2026-11", "Cantine d'octobre", "Cantine et périscolaire",
                  "45,00 €", "31/10/2026", "Payer 45,00 € avec PayFiP"):
        assert shown in page, shown
    # Nothing more of the payer than the invoice shows; not even its name here.
    for hidden in ("Famille Durand", FAMILY_ADDRESS, "12 rue des Tilleuls",
                   shop.payer.link_code):
        assert hidden not in page, hidden

    location, idop = start(client, owed, email="Parent@Example.fr ")
    operation = Operation.objects.get(idop=idop)  # what PayFiP was asked
    assert (operation.montant, operation.numcli, operation.refdet) == (4500, "049836",
                                                                       "CANT202611")
    assert operation.mel == "parent@example.fr"
    assert operation.urlnotif == f"http://{shop.host}/paiement-en-ligne/notification/"
    with in_schema(shop.commune):
        payment = OnlinePayment.objects.get(idop=idop)
    assert payment.by_reference and payment.receipt_to == "parent@example.fr"
    assert payment.started_by.startswith("sans compte ")

    where, outcome = choose(location, "payer")
    assert where == shop.host and outcome.status_code == 200
    assert "Paiement accepté" in text(outcome)
    assert "Elle est aussi envoyée à parent@example.fr" in text(outcome)
    [entry] = online_entries(shop)
    assert (entry.amount, entry.mode, entry.payer_id) == (45, "online", shop.payer.pk)
    assert entry.external_ref == f"payfip:{idop}"

    receipt_link = re.search(r'href="(/payer/quittance/[^"]+\.pdf)"', text(outcome))[1]
    pdf = Client(HTTP_HOST=shop.host).get(receipt_link)  # from any browser with the link
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert f"quittance-{entry.receipt}.pdf" in pdf["Content-Disposition"]
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")

    # The receipt is e-mailed once; notifications that come again change nothing.
    [sent] = mail.outbox
    assert sent.to == ["parent@example.fr"] and entry.receipt in sent.subject
    assert sent.attachments[0][0] == f"quittance-{entry.receipt}.pdf"
    for _ in range(2):
        assert notify(shop, idop).status_code == 200
    assert len(online_entries(shop)) == 1 and len(mail.outbox) == 1
    with in_schema(shop.commune):
        payment.refresh_from_db()
        assert payment.notifications == 3 and payment.receipt_sent_at is not None
        assert payment.entry_id == entry.pk

    # Paid: the same number and code now say so, and offer nothing.
    again = ask(visitor(shop), "CANT-2026-11", shop.payer.link_code)
    assert "est déjà payée : il ne reste rien à payer" in text(again)
    assert 'name="token"' not in text(again)


def test_without_an_address_payfip_gets_the_communes_and_no_receipt_is_mailed(shop):
    client = visitor(shop)
    location, idop = start(client, ask(client, "CANT-2026-11", shop.payer.link_code))
    assert Operation.objects.get(idop=idop).mel != FAMILY_ADDRESS  # not the record's
    _where, outcome = choose(location, "payer")
    assert "Paiement accepté" in text(outcome) and "envoyée à" not in text(outcome)
    assert len(online_entries(shop)) == 1 and mail.outbox == []


def test_a_refused_payment_offers_to_pay_again(shop):
    client = visitor(shop)
    location, _ = start(client, ask(client, "CANT-2026-11", shop.payer.link_code))
    _where, outcome = choose(location, "refuser")
    assert "Paiement refusé" in text(outcome) and "rien n'a été prélevé" in text(outcome)
    assert "/payer/?facture=CANT-2026-11" in text(outcome)
    assert online_entries(shop) == []
    location, _ = start(client, ask(client, "CANT-2026-11", shop.payer.link_code))
    _where, outcome = choose(location, "payer")
    assert "Paiement accepté" in text(outcome) and len(online_entries(shop)) == 1


def alert(page) -> str:
    return re.search(r'role="alert">(.*?)</div>', text(page), re.S)[1]


def test_an_unknown_number_and_a_wrong_code_get_the_same_answer(shop, caplog):
    client = visitor(shop)
    answers = [ask(client, "CANT-2099-99", shop.payer.link_code),  # no such invoice
               ask(client, "CANT-2026-11", "ZZZZ-ZZZZ-ZZZZ"),  # wrong code
               ask(client, "CANT-2026-11", shop.other.link_code),  # another payer's code
               ask(client, "CANT-2026-12", shop.payer.link_code)]  # another payer's invoice
    assert {a.status_code for a in answers} == {400}
    assert len({alert(a) for a in answers}) == 1 and SAME_ANSWER in alert(answers[0])
    for answer in answers:
        page = text(answer)
        for hidden in ("Famille", "45,00", "20,00", "Cantine d'octobre", "Garderie",
                       "Cantine et périscolaire", 'name="token"'):
            assert hidden not in page, hidden
    assert "wrong invoice number or code 'CANT-2099-99' (ip 198.51.100.7)" in caplog.text
    with in_schema(shop.commune):
        assert ReferenceAttempt.objects.filter(succeeded=False).count() == 4


def test_guessing_is_paused_per_invoice_number_and_per_address(shop, settings, caplog):
    settings.OPSN_LINK_MAX_FAILURES = 2
    guesser = visitor(shop, "203.0.113.5")
    for code in ("AAAA-AAAA-AAAA", "BBBB-BBBB-BBBB"):
        assert ask(guesser, "CANT-2026-11", code).status_code == 400
    # The number is paused, from any address, even with its right code…
    paused = ask(visitor(shop, "198.51.100.20"), "CANT-2026-11", shop.payer.link_code)
    assert paused.status_code == 429 and "Trop de codes erronés" in text(paused)
    assert 'name="token"' not in text(paused)
    assert "pay by reference paused for invoice number 'CANT-2026-11'" in caplog.text
    # …and an unknown number is paused the same way: a pause says nothing.
    for code in ("AAAA-AAAA-AAAA", "BBBB-BBBB-BBBB"):
        ask(guesser, "NOPE-1", code)
    assert alert(ask(visitor(shop, "198.51.100.21"), "NOPE-1", "CCCC-CCCC-CCCC")) == alert(
        paused)
    # Per address: four times the number's limit, whatever numbers are tried.
    for i in range(4):
        ask(guesser, f"X-{i}", "AAAA-AAAA-AAAA")
    stopped = ask(guesser, "CANT-2026-12", shop.other.link_code)
    assert stopped.status_code == 429
    # Another address is not paused: the family pays its other invoice.
    fine = ask(visitor(shop, "198.51.100.22"), "CANT-2026-12", shop.other.link_code)
    assert fine.status_code == 200 and "Garderie" in text(fine)


def test_paid_cancelled_or_not_online_invoices_say_so_only_with_their_code(shop):
    with in_schema(shop.commune):
        payments.payment_record(regie=shop.regie, actor=MANDATAIRE, amount="20.00",
                                mode="cash", invoices=[shop.theirs])
        invoicing.invoice_cancel(invoice=shop.invoice, actor=ADMIN, reason="Erreur de tarif")
    paid = ask(visitor(shop), "CANT-2026-12", shop.other.link_code)
    assert "La facture n° CANT-2026-12 est déjà payée" in text(paid)
    cancelled = ask(visitor(shop), "CANT-2026-11", shop.payer.link_code)
    assert "a été annulée par la régie : il n'y a rien à payer" in text(cancelled)
    assert 'name="token"' not in text(cancelled)
    # Without the code, the same answer as for any unknown invoice.
    assert SAME_ANSWER in alert(ask(visitor(shop), "CANT-2026-11", "ZZZZ-ZZZZ-ZZZZ"))

    with in_schema(shop.commune):
        pool = make_regie("P-01", "Piscine municipale")  # no online payment
        swimmer = make_payer(pool, "Famille Diallo")
        issue(pool, swimmer, "12.00", "PISC-1", label="Cours de natation")
    offline = ask(visitor(shop), "PISC-1", swimmer.link_code)
    assert offline.status_code == 200
    assert "ne propose pas le paiement en ligne" in text(offline)
    assert 'name="token"' not in text(offline)


def test_a_payment_in_flight_is_taken_up_never_doubled(shop, settings):
    settings.OPSN_PAYFIP_LOCAL_NOTIFY = False
    client = visitor(shop)
    _location, first = start(client, ask(client, "CANT-2026-11", shop.payer.link_code))
    owed = ask(visitor(shop, "198.51.100.30"), "CANT-2026-11", shop.payer.link_code)
    assert "continuer vous ramène au même paiement" in text(owed)
    _location, second = start(client, owed)
    assert second == first
    with in_schema(shop.commune):
        assert OnlinePayment.objects.filter(state=PaymentState.CREATED).count() == 1


@pytest.mark.parametrize(("number", "code"), [
    ("CANT-2026-11", "x" * 50_000),
    ("9" * 40_000, "ABCD-EFGH-JKMN"),
    ("CANT-2026-11", "ÉÉÉÉ-ÉÉÉÉ-ÉÉÉÉ"),
    ("CANT-2026-11", "𝟘𝟘𝟘𝟘-𝟘𝟘𝟘𝟘-𝟘𝟘𝟘𝟘"),
    ("'; DROP TABLE regies_invoice; --", "%"),
    ("", "ABCD-EFGH-JKMN"),
    ("CANT-2026-11", ""),
])
def test_hostile_input_is_refused_in_french_never_a_500(shop, number, code):
    answer = ask(visitor(shop), number, code)
    assert answer.status_code == 400
    assert "Saisissez" in alert(answer) or SAME_ANSWER in alert(answer)


def test_nul_bytes_and_forged_links_are_refused(shop):
    client = visitor(shop)
    assert ask(client, "CANT\x00-2026-11", "A").status_code == 400
    assert client.get("/payer/?facture=\x00").status_code == 400
    assert client.get("/payer/?facture=" + "9" * 5000).status_code in (200, 400)
    forged = client.post("/payer/paiement/", {"token": "123:abc:def", "email": ""})
    assert forged.status_code == 400 and "Le délai pour payer" in text(forged)
    assert client.get("/payer/resultat/123:abc/").status_code == 404
    assert client.get("/payer/quittance/123:abc.pdf").status_code == 404
    owed = ask(client, "CANT-2026-11", shop.payer.link_code)
    bad_email = client.post("/payer/paiement/", {"token": token_of(owed),
                                                 "email": "pas une adresse"})
    assert bad_email.status_code == 400
    assert "n'est pas une adresse électronique valide" in text(bad_email)
    with in_schema(shop.commune):
        assert not OnlinePayment.objects.exists()


def test_a_link_opens_its_own_payment_only(shop, vaulx):
    client = visitor(shop)
    location, idop = start(client, ask(client, "CANT-2026-11", shop.payer.link_code))
    _where, outcome = choose(location, "payer")
    mine = re.search(r'href="(/payer/quittance/[^"]+\.pdf)"', text(outcome))[1]
    other = visitor(shop, "198.51.100.40")
    _location, theirs_idop = start(other, ask(other, "CANT-2026-12", shop.other.link_code))
    with in_schema(shop.commune):
        theirs = OnlinePayment.objects.get(idop=theirs_idop)
        ours = OnlinePayment.objects.get(idop=idop)
        theirs_token = by_reference.payment_token(theirs)
        # A token of another commune, or of another kind, opens nothing here.
        invoice_token = by_reference.invoice_token(shop.invoice)
    assert client.get(f"/payer/quittance/{theirs_token}.pdf").status_code == 404  # not paid
    assert client.get(f"/payer/quittance/{invoice_token}.pdf").status_code == 404
    assert client.get(f"/payer/resultat/{invoice_token}/").status_code == 404
    assert client.get(mine).status_code == 200
    # The token of the same payment id, made by another commune, is refused.
    with in_schema(vaulx):
        foreign = by_reference.payment_token(ours)
    assert client.get(f"/payer/quittance/{foreign}.pdf").status_code == 404


def test_the_home_page_leads_to_paying_my_payments_and_the_contact(shop, vaulx):
    with in_schema(shop.commune):
        profile = current_profile()
        profile.phone, profile.email = "04 72 21 44 44", "mairie@venissieux.example"
        profile.save()
    home = text(Client(HTTP_HOST=shop.host).get("/"))
    main = home.split("<main", 1)[1].split("</main>")[0]
    for shown in ('href="/payer/">Payer une facture', 'href="/mon-espace/">Mes paiements',
                  "Contacter la mairie", "04 72 21 44 44", "mairie@venissieux.example"):
        assert shown in main, shown
    for code in Module.objects.values_list("code", flat=True):  # never a module's code
        assert code not in main, code
    # A commune where no régie takes online payment offers no « Payer une facture ».
    assert 'href="/payer/"' not in text(Client(HTTP_HOST=host_of(vaulx)).get("/"))


def test_paid_and_gone_the_reconciliation_records_it_and_mails_the_receipt_once(shop, settings):
    settings.OPSN_PAYFIP_LOCAL_NOTIFY = False  # no notification comes
    client = visitor(shop)
    location, idop = start(client, ask(client, "CANT-2026-11", shop.payer.link_code),
                           email="parent@example.fr")
    parts = urlsplit(location)  # the family pays and closes the page before coming back
    Browser().client(PROVIDER).post(parts.path, {"idop": idop, "choix": "payer"})
    assert online_entries(shop) == [] and mail.outbox == []
    with in_schema(shop.commune):
        OnlinePayment.objects.filter(idop=idop).update(
            created_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
        assert online_payments_reconcile() == {"paid": 1}
        assert online_payments_reconcile() == {}
    [entry] = online_entries(shop)
    assert [m.to for m in mail.outbox] == [["parent@example.fr"]]
    assert entry.receipt in mail.outbox[0].subject


def test_the_host_headers_port_never_reaches_payfip_without_an_account_either(shop, settings):
    """The addresses handed to PayFiP come from the public base: a Host header naming
    another port is not followed (it did before, on the return address and the
    notification's)."""
    client = Client(HTTP_HOST=f"{shop.host}:6666", REMOTE_ADDR="198.51.100.9")
    _location, idop = start(client, ask(client, "CANT-2026-11", shop.payer.link_code))
    operation = Operation.objects.get(idop=idop)
    assert operation.urlnotif == f"http://{shop.host}/paiement-en-ligne/notification/"
    assert operation.urlredirect.startswith(f"http://{shop.host}/payer/resultat/")

    settings.OPSN_PUBLIC_PORT = 8000
    with in_schema(shop.commune):
        OnlinePayment.objects.filter(idop=idop).update(state="cancelled")
    _location, idop = start(client, ask(client, "CANT-2026-11", shop.payer.link_code))
    operation = Operation.objects.get(idop=idop)
    assert operation.urlnotif == f"http://{shop.host}:8000/paiement-en-ligne/notification/"
    assert operation.urlredirect.startswith(f"http://{shop.host}:8000/payer/resultat/")
