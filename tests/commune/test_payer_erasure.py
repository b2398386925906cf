"""Payers' personal data: erasure of the contact details on request, pseudonymisation after
the retention period by the daily job — while the amounts, the receipts and the journal's
hash chain stay as they were."""

import datetime
from unittest import mock

import pytest
from django.utils import timezone

from opsn.audit.models import AuditEvent
from opsn.branding.models import PublicNotices
from opsn.citizens.models import LinkMethod, PayerLink
from opsn.citizens.tasks import pseudonymise_payers
from opsn.kernel.actors import Actor
from opsn.regies.chain import verify_chain
from opsn.regies.errors import NotAllowed, Refused, RegieError
from opsn.regies.models import Invoice, LedgerEntry, Payer
from opsn.regies.services import invoicing
from opsn.regies.services.erasure import payer_erase, payers_pseudonymise
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    SUPPLEANT,
    TITULAIRE,
    make_invoice,
    make_payer,
    make_regie,
)

CONTACT = {"email": "camille@exemple.fr", "phone": "06 12 34 56 78",
           "address_line": "3 rue des Lilas", "postal_code": "69200", "city": "Vénissieux"}
SYSTEM = Actor.system("conservation des données des payeurs")
IN_2032 = datetime.datetime(2032, 6, 1, 12, tzinfo=datetime.UTC)


def paid_payer(regie, name="Famille Durand", number="CANT-2026-11"):
    payer = make_payer(regie, name, external_ref=f"FAM-{number}", **CONTACT)
    invoice = make_invoice(regie, payer, "45.00", number=number)
    entry = payment_record(regie=regie, actor=MANDATAIRE, amount="45.00", mode="cash",
                           invoices=[invoice])
    entry.refresh_from_db()  # its fingerprint, written by the database
    return payer, invoice, entry


def erasures():
    return list(AuditEvent.objects.filter(code="payer.erased").order_by("id"))


def test_erasure_blanks_the_contact_details_and_keeps_amounts_receipts_and_chain(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer, invoice, entry = paid_payer(regie)
        erased = payer_erase(payer=payer, actor=TITULAIRE,
                             reason="Demande du payeur par courriel du 2 décembre")

        assert erased == ["courriel", "téléphone", "adresse", "code postal", "commune"]
        payer.refresh_from_db()
        assert [getattr(payer, f) for f in CONTACT] == ["", "", "", "", ""]
        assert payer.name == "Famille Durand"  # kept: the invoices are made out to it
        assert payer.external_ref == "FAM-CANT-2026-11"
        invoice.refresh_from_db()
        assert (invoice.total, invoice.amount_paid, invoice.status) == (45, 45, "paid")
        kept = LedgerEntry.objects.get(pk=entry.pk)
        assert (kept.amount, kept.receipt_number, kept.hash) == (45, entry.receipt_number,
                                                                 entry.hash)
        assert verify_chain(regie) is None
        [event] = erasures()
        assert event.actor == TITULAIRE.account and event.target == f"payer:{payer.pk}"
        assert event.summary == (
            f"Effacement des coordonnées du payeur {payer.link_code} (régie R-001) : "
            "courriel, téléphone, adresse, code postal, commune ; motif : Demande du payeur "
            "par courriel du 2 décembre")
        assert "camille@exemple.fr" not in str(event.data) + event.summary
        assert "Lilas" not in str(event.data) + event.summary

        # once erased, nothing more to erase
        with pytest.raises(Refused, match="rien à effacer"):
            payer_erase(payer=payer, actor=ADMIN, reason="Nouvelle demande")
        assert len(erasures()) == 1


def test_erasure_is_refused_while_an_invoice_is_unpaid(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie, "Famille Voisin", **CONTACT)
        invoice = make_invoice(regie, payer, "30.00", number="CANT-2026-12")
        payment_record(regie=regie, actor=MANDATAIRE, amount="10.00", mode="cash",
                       invoices=[invoice])
        with pytest.raises(Refused) as refused:
            payer_erase(payer=payer, actor=ADMIN, reason="Demande du payeur")
        assert str(refused.value).startswith(
            "Effacement refusé : la facture CANT-2026-12 (20,00 €) reste à payer")
        assert "le courriel et le téléphone peuvent être retirés de la fiche" in str(
            refused.value)
        payer.refresh_from_db()
        assert payer.email == "camille@exemple.fr" and payer.city == "Vénissieux"
        assert erasures() == []

        # once cancelled, the details may go
        invoicing.invoice_cancel(invoice=invoice, actor=ADMIN, reason="Erreur")
        assert payer_erase(payer=payer, actor=ADMIN, reason="Demande du payeur")
        assert verify_chain(regie) is None


def test_who_may_erase_and_what_a_reason_must_be(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        payer = make_payer(regie, "Famille Durand", **CONTACT)
        for who in (MANDATAIRE, SUPPLEANT):
            with pytest.raises(NotAllowed, match="Seuls l'administrateur de la commune et "
                                                 "le régisseur titulaire"):
                payer_erase(payer=payer, actor=who, reason="Demande")
        for reason, message in (("  ", "Indiquez le motif"), ("a\x00b", "caractère nul"),
                                ("x" * 301, "300 caractères")):
            with pytest.raises(RegieError, match=message):
                payer_erase(payer=payer, actor=ADMIN, reason=reason)
        payer.refresh_from_db()
        assert payer.email == "camille@exemple.fr"
        assert erasures() == []


def test_retention_pseudonymises_old_unlinked_payers_only_and_is_idempotent(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        old, old_invoice, entry = paid_payer(regie, "Famille Ancienne", "CANT-2026-1")
        linked, _, _ = paid_payer(regie, "Famille Rattachée", "CANT-2026-2")
        owing = make_payer(regie, "Famille Débitrice", **CONTACT)
        make_invoice(regie, owing, "12.00", number="CANT-2026-3")
        recent = make_payer(regie, "Famille Récente", **CONTACT)
        Payer.objects.filter(pk=recent.pk).update(
            created_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC))

        today = datetime.date(2032, 6, 1)  # five years after 2027-06-01
        assert payers_pseudonymise(actor=SYSTEM, years=5, linked={linked.pk},
                                   today=today) == 1
        old.refresh_from_db()
        assert old.name == f"Payeur {old.pk} (pseudonymisé)"
        assert [getattr(old, f) for f in CONTACT] == ["", "", "", "", ""]
        assert old.external_ref == "FAM-CANT-2026-1"  # the business software's key
        old_invoice.refresh_from_db()
        assert (old_invoice.total, old_invoice.status) == (45, "paid")
        assert LedgerEntry.objects.get(pk=entry.pk).hash == entry.hash
        assert verify_chain(regie) is None
        for kept, name in ((linked, "Famille Rattachée"), (owing, "Famille Débitrice"),
                           (recent, "Famille Récente")):
            kept.refresh_from_db()
            assert (kept.name, kept.email) == (name, "camille@exemple.fr")
        [event] = AuditEvent.objects.filter(code="payer.pseudonymised")
        assert event.actor_kind == "system" and event.target == f"payer:{old.pk}"
        assert event.summary == (
            f"Pseudonymisation du payeur {old.link_code} (régie R-001) : aucune facture ni "
            f"aucun paiement depuis le {timezone.localdate():%d/%m/%Y}, conservation 5 ans")
        assert "Ancienne" not in event.summary + str(event.data)

        # a second run changes nothing
        assert payers_pseudonymise(actor=SYSTEM, years=5, linked={linked.pk},
                                   today=today) == 0
        assert AuditEvent.objects.filter(code="payer.pseudonymised").count() == 1
        # with ten years, none is old enough
        assert payers_pseudonymise(actor=SYSTEM, years=10, linked=set(), today=today) == 0


def test_the_daily_job_keeps_linked_payers_and_reads_each_communes_period(venissieux,
                                                                         vaulx):
    with in_schema(venissieux):
        regie = make_regie()
        old, _, _ = paid_payer(regie, "Famille Ancienne", "CANT-2026-1")
        linked, _, _ = paid_payer(regie, "Famille Rattachée", "CANT-2026-2")
    with in_schema(vaulx):
        pool = make_regie("P-01", "Piscine municipale")
        swimmer, _, _ = paid_payer(pool, "Camille Nageuse", "PISC-2026-1")
        PublicNotices.objects.create(pk=1, payer_retention_years=10)  # its own period
    PayerLink.objects.create(subject="camille", commune=venissieux, payer_id=linked.pk,
                             payer_name=linked.name, method=LinkMethod.CODE)
    PayerLink.objects.create(subject="ancien", commune=venissieux, payer_id=old.pk,
                             payer_name=old.name, method=LinkMethod.CODE,
                             unlinked_at=timezone.now())  # unlinked: no longer protects

    with mock.patch("django.utils.timezone.now", return_value=IN_2032):
        pseudonymise_payers()
        pseudonymise_payers()  # idempotent
    with in_schema(venissieux):
        old.refresh_from_db()
        linked.refresh_from_db()
        assert old.name == f"Payeur {old.pk} (pseudonymisé)" and old.email == ""
        assert (linked.name, linked.email) == ("Famille Rattachée", "camille@exemple.fr")
        assert AuditEvent.objects.filter(code="payer.pseudonymised").count() == 1
        assert verify_chain(regie) is None
    with in_schema(vaulx):
        swimmer.refresh_from_db()
        assert swimmer.name == "Camille Nageuse"  # ten years in Vaulx-en-Velin
        assert not AuditEvent.objects.filter(code="payer.pseudonymised").exists()
        assert Invoice.objects.filter(payer=swimmer).count() == 1
