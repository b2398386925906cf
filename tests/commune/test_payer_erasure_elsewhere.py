"""Erasing a payer reaches what the apps built on the régies keep on them: the e-mail of
their online payments, the address their invoices and reminders were e-mailed to, and the
debtor's details on their ended mandates — told through
``regies.signals.payer_erased``, since the régies may not import those apps. The amounts,
the references, the mandates' RUM and dates, and the journal's chain stay."""

import datetime

import pytest

from opsn.agents.models import Role
from opsn.audit.models import AuditEvent
from opsn.direct_debit.models import Mandate, MandateSignature, MandateStatus
from opsn.direct_debit.services import creditor_set, mandate_record, mandate_revoke
from opsn.finance.models import InvoiceReminder, ReminderChannel, ReminderStatus
from opsn.kernel.actors import Actor
from opsn.online_payments.models import OnlinePayment, PaymentState
from opsn.regies.chain import verify_chain
from opsn.regies.errors import Refused
from opsn.regies.models import InvoiceMailing, LedgerEntry, MailingStatus
from opsn.regies.services.erasure import payer_erase, payers_pseudonymise
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
from tests.helpers.identity import agent
from tests.helpers.regies import ADMIN, MANDATAIRE, make_invoice, make_payer, make_regie

CA_IBAN, CA_BIC = "FR7630006000011234567890189", "AGRIFRPP"
LBP_IBAN, LBP_BIC = "FR1420041010050500013M02606", "PSSTFRPPLYO"
TODAY = datetime.date(2026, 12, 7)
SYSTEM = Actor.system("conservation des données des payeurs")
IN_2040 = datetime.date(2040, 1, 1)


@pytest.fixture
def regie(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        creditor_set(regie=regie, ics="fr72 zzz 123456", iban="FR7630001007941234567890185",
                     bic="BDFEFRPP", name="Ville de Vénissieux – cantine", actor=ADMIN)
        return regie


def family(regie, name, email, number):
    """A family that paid an invoice online (its e-mail sent to PayFiP, its receipt
    e-mailed) and had a mandate, revoked since."""
    payer = make_payer(regie, name, email=email, address_line="3 rue des Lilas",
                       postal_code="69200", city="Vénissieux")
    invoice = make_invoice(regie, payer, "45.00", number=number)
    entry = payment_record(regie=regie, actor=MANDATAIRE, amount="45.00", mode="cash",
                           invoices=[invoice])
    OnlinePayment.objects.create(
        regie=regie, invoice=invoice, payer=payer, numcli="049836", environment="T",
        exer=2026, refdet=number, amount_cents=4500, email=email, started_by="x" * 16,
        state=PaymentState.REFUSED, result_code="C", result={"resultrans": "C", "mel": email})
    OnlinePayment.objects.create(
        regie=regie, invoice=invoice, payer=payer, numcli="049836", environment="T",
        exer=2026, refdet=number, amount_cents=4500, email=email, started_by="x" * 16,
        state=PaymentState.PAID, result_code="P", entry=entry, receipt_to=email,
        receipt_sent_at=datetime.datetime(2026, 11, 5, 10, tzinfo=datetime.UTC),
        result={"resultrans": "P", "montant": "4500"})
    mandate = mandate_record(payer=payer, debtor_name=name, iban=CA_IBAN, bic=CA_BIC,
                             signed_on=datetime.date(2026, 9, 1), actor=ADMIN, today=TODAY)
    return payer, entry, mandate


def test_erasure_blanks_online_payments_emails_and_ended_mandates_details(venissieux, regie):
    with in_schema(venissieux):
        payer, entry, mandate = family(regie, "Famille Durand", "durand@exemple.fr",
                                       "CANT-2026-11")
        neighbour, _entry, theirs = family(regie, "Famille Voisin", "voisin@exemple.fr",
                                           "CANT-2026-12")
        # An active mandate still blocks the erasure (the bank debits in that name).
        with pytest.raises(Refused, match="mandat de prélèvement SEPA actif"):
            payer_erase(payer=payer, actor=ADMIN, reason="Demande du payeur")
        signed_at = datetime.datetime(2026, 9, 1, 18, tzinfo=datetime.UTC)
        MandateSignature.objects.create(mandate=mandate, signed_at=signed_at,
                                        signer="durand@exemple.fr", ip="192.0.2.7",
                                        wording="J'autorise…", pdf=b"%PDF-1.7 Durand")
        mandate_revoke(mandate=mandate, reason="Courrier de la famille", actor=ADMIN,
                       today=TODAY)
        mandate_revoke(mandate=theirs, reason="Courrier", actor=ADMIN, today=TODAY)

        erased = payer_erase(payer=payer, actor=ADMIN, reason="Demande du payeur")

        assert erased[:4] == ["courriel", "adresse", "code postal", "commune"]
        assert set(erased[4:]) == {  # each app's answer (their order: the apps')
            "adresse électronique de 2 paiement(s) en ligne",
            "nom, IBAN et BIC du débiteur sur 1 mandat(s) révoqué(s) ou caduc(s)",
            "signataire et PDF de 1 mandat(s) signé(s) en ligne"}
        signature = MandateSignature.objects.get(mandate=mandate)
        assert (signature.signer, signature.ip, bytes(signature.pdf)) == ("", None, b"")
        assert (signature.signed_at, signature.wording) == (signed_at, "J'autorise…")
        payments = OnlinePayment.objects.filter(payer=payer).order_by("id")
        assert [(p.email, p.receipt_to) for p in payments] == [("", ""), ("", "")]
        assert [p.result for p in payments] == [{"resultrans": "C"},
                                                {"resultrans": "P", "montant": "4500"}]
        assert [(p.amount_cents, p.refdet, p.state) for p in payments] == [
            (4500, "CANT-2026-11", "refused"), (4500, "CANT-2026-11", "paid")]
        kept = Mandate.objects.get(pk=mandate.pk)
        assert (kept.debtor_name, kept.iban, kept.bic) == ("", "", "")
        assert (kept.rum, kept.signed_on, kept.ended_on, kept.status) == (
            mandate.rum, datetime.date(2026, 9, 1), TODAY, MandateStatus.REVOKED)
        # The journal, its receipt and its chain as they were.
        assert LedgerEntry.objects.get(pk=entry.pk).amount == 45
        assert verify_chain(regie) is None
        [event] = AuditEvent.objects.filter(code="payer.erased")
        assert "adresse électronique de 2 paiement(s) en ligne" in event.summary
        assert "nom, IBAN et BIC du débiteur sur 1 mandat(s)" in event.summary
        assert "durand@exemple.fr" not in event.summary + str(event.data)
        assert CA_IBAN not in event.summary + str(event.data)
        # Nothing of the neighbour's touched.
        assert set(OnlinePayment.objects.filter(payer=neighbour)
                   .values_list("email", flat=True)) == {"voisin@exemple.fr"}
        other = Mandate.objects.get(pk=theirs.pk)
        assert (other.debtor_name, other.iban) == ("Famille Voisin", CA_IBAN)
    # The mandate's page says its details were erased.
    admin = agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)
    page = admin.get(f"/espace/regies/{regie.number}/payeurs/{payer.pk}/mandats/"
                     f"{mandate.pk}/").content.decode()
    assert page.count("effacé (données personnelles)") == 2 and mandate.rum in page
    assert "0189" not in page
    with in_schema(venissieux):
        # Once erased, nothing more to erase: refused, logged once.
        with pytest.raises(Refused, match="rien à effacer"):
            payer_erase(payer=payer, actor=ADMIN, reason="Nouvelle demande")
        assert AuditEvent.objects.filter(code="payer.erased").count() == 1


def test_an_online_payment_in_flight_keeps_the_payers_address(venissieux, regie):
    with in_schema(venissieux):
        payer = make_payer(regie, "Famille Durand", email="durand@exemple.fr")
        invoice = make_invoice(regie, payer, "45.00", number="CANT-2026-11")
        payment_record(regie=regie, actor=MANDATAIRE, amount="45.00", mode="cash",
                       invoices=[invoice])
        OnlinePayment.objects.create(
            regie=regie, invoice=invoice, payer=payer, numcli="049836", environment="T",
            exer=2026, refdet="CANT-2026-11", amount_cents=4500, email="durand@exemple.fr",
            started_by="x" * 16, state=PaymentState.ANOMALY)
        with pytest.raises(Refused, match=r"paiement en ligne .* en cours de traitement "
                                          r"\(CANT-2026-11\)"):
            payer_erase(payer=payer, actor=ADMIN, reason="Demande du payeur")
        payer.refresh_from_db()
        assert payer.email == "durand@exemple.fr"
        assert not AuditEvent.objects.filter(code="payer.erased").exists()


def test_the_retention_job_erases_them_too(venissieux, regie):
    with in_schema(venissieux):
        payer, _entry, mandate = family(regie, "Famille Durand", "durand@exemple.fr",
                                        "CANT-2026-11")
        Mandate.objects.filter(pk=mandate.pk).update(
            status=MandateStatus.LAPSED, ended_on=TODAY, original_iban=LBP_IBAN,
            original_bic=LBP_BIC)
        assert payers_pseudonymise(actor=SYSTEM, years=5, linked=[], today=IN_2040) == 1
        assert set(OnlinePayment.objects.filter(payer=payer)
                   .values_list("email", "receipt_to")) == {("", "")}
        kept = Mandate.objects.get(pk=mandate.pk)
        assert (kept.debtor_name, kept.iban, kept.bic, kept.original_iban,
                kept.original_bic) == ("", "", "", "", "")
        assert kept.rum == mandate.rum
        assert verify_chain(regie) is None
        [event] = AuditEvent.objects.filter(code="payer.pseudonymised")
        assert "conservation 5 ans ; effacés aussi : " in event.summary
        assert "adresse électronique de 2 paiement(s) en ligne" in event.summary
        assert "nom, IBAN et BIC du débiteur sur 1 mandat(s) révoqué(s) ou caduc(s)" in (
            event.summary)
        # A second run changes nothing and writes nothing.
        assert payers_pseudonymise(actor=SYSTEM, years=5, linked=[], today=IN_2040) == 0
        assert AuditEvent.objects.filter(code="payer.pseudonymised").count() == 1


def test_erasure_blanks_the_address_invoices_and_reminders_were_emailed_to(venissieux,
                                                                           regie):
    with in_schema(venissieux):
        payer = make_payer(regie, "Famille Durand", email="durand@exemple.fr")
        neighbour = make_payer(regie, "Famille Voisin", email="voisin@exemple.fr")
        sent = datetime.datetime(2026, 11, 5, 10, tzinfo=datetime.UTC)
        invoices = []
        for who, number in ((payer, "CANT-2026-11"), (neighbour, "CANT-2026-12")):
            invoice = make_invoice(regie, who, "45.00", number=number)
            InvoiceMailing.objects.create(invoice=invoice, to=who.email, attempts=1,
                                          status=MailingStatus.SENT, attempted_at=sent,
                                          sent_at=sent)
            InvoiceReminder.objects.create(
                invoice=invoice, level=1, channel=ReminderChannel.EMAIL, to=who.email,
                status=ReminderStatus.SENT, owed="45.00", made_on=TODAY, attempted_at=sent,
                sent_at=sent)
            payment_record(regie=regie, actor=MANDATAIRE, amount="45.00", mode="cash",
                           invoices=[invoice])
            invoices.append(invoice)

        erased = payer_erase(payer=payer, actor=ADMIN, reason="Demande du payeur")

        assert "adresse de 1 envoi(s) de facture par courriel" in erased
        assert "adresse de 1 relance(s) par courriel" in erased
        mine, theirs = invoices
        assert InvoiceMailing.objects.get(invoice=mine).to == ""
        reminder = InvoiceReminder.objects.get(invoice=mine)
        assert (reminder.to, reminder.level, reminder.owed, reminder.status) == (
            "", 1, 45, ReminderStatus.SENT)
        # The neighbour's records keep their address.
        assert InvoiceMailing.objects.get(invoice=theirs).to == "voisin@exemple.fr"
        assert InvoiceReminder.objects.get(invoice=theirs).to == "voisin@exemple.fr"
        assert verify_chain(regie) is None
