"""SEPA direct debit, first slice: the régie as creditor (ICS, DFT account), the payers'
mandates (RUM, amendment, revocation, lapse), and the collection file (pain.008.001.02,
validated against the ISO 20022 schema sepaxml ships)."""

import datetime
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from lxml import etree
from sepaxml.validation import try_valid_xml

from opsn.audit.models import AuditEvent
from opsn.citizens.personal_data import payer_data_export
from opsn.direct_debit import pain008
from opsn.direct_debit.banking import clean_bic, clean_iban, clean_ics, mask_iban
from opsn.direct_debit.errors import DirectDebitError
from opsn.direct_debit.models import CollectionLine, Mandate
from opsn.direct_debit.services import (
    collect,
    collectable,
    creditor_set,
    lapse_unused,
    mandate_amend,
    mandate_record,
    mandate_revoke,
)
from opsn.kernel.actors import Actor
from opsn.regies.errors import Refused
from opsn.regies.services.erasure import payer_erase, payers_pseudonymise
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
from tests.helpers.regies import ADMIN, TITULAIRE, make_invoice, make_payer, make_regie

ICS = "FR72ZZZ123456"
DFT_IBAN = "FR7630001007941234567890185"
CA_IBAN, CA_BIC = "FR7630006000011234567890189", "AGRIFRPP"  # Crédit Agricole
CA_IBAN_2 = "FR7630006000019876543210076"  # the same bank, another account
LBP_IBAN, LBP_BIC = "FR1420041010050500013M02606", "PSSTFRPPLYO"  # La Banque Postale
TODAY = datetime.date(2026, 12, 7)
DAY = datetime.date(2026, 12, 15)  # a Tuesday
NEXT = datetime.date(2027, 1, 15)  # a Friday
NS = {"p": pain008.NS}


@pytest.fixture
def regie(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        creditor_set(regie=regie, ics="fr72 zzz 123456", iban=DFT_IBAN, bic="BDFEFRPP",
                     name="Ville de Vénissieux – cantine", actor=ADMIN)
        return regie


def mandate(payer, iban=CA_IBAN, bic=CA_BIC, **fields):
    return mandate_record(payer=payer, debtor_name=payer.name, iban=iban, bic=bic,
                          signed_on=datetime.date(2026, 9, 1), actor=ADMIN, today=TODAY,
                          **fields)


def transactions(xml: str) -> dict[str, etree._Element]:
    root = etree.fromstring(xml.encode())
    return {tx.findtext("p:DrctDbtTx/p:MndtRltdInf/p:MndtId", namespaces=NS): tx
            for tx in root.iterfind(".//p:DrctDbtTxInf", NS)}


def sequence(xml: str, rum: str) -> str:
    root = etree.fromstring(xml.encode())
    for block in root.iterfind(".//p:PmtInf", NS):
        for tx in block.iterfind("p:DrctDbtTxInf", NS):
            if tx.findtext("p:DrctDbtTx/p:MndtRltdInf/p:MndtId", namespaces=NS) == rum:
                return block.findtext("p:PmtTpInf/p:SeqTp", namespaces=NS) or ""
    raise AssertionError(f"{rum} not in the file")


# --- identifiers ---------------------------------------------------------------------

def test_a_french_ics_is_checked_with_its_business_code_skipped():
    assert clean_ics(" fr72 ZZZ 123456 ") == "FR72ZZZ123456"
    assert clean_ics("FR72ABC123456") == "FR72ABC123456"  # the business code is free
    with pytest.raises(DirectDebitError, match="chiffres de contrôle ne correspondent pas"):
        clean_ics("FR73ZZZ123456")
    with pytest.raises(DirectDebitError, match="n'a pas la forme française"):
        clean_ics("DE98ZZZ09999999999")


@pytest.mark.parametrize("bad", ["FR7630006000011234567890188", "FR76", "XX00123",
                                 "FR76\x0030006", "9" * 5000])
def test_a_bad_iban_is_refused_in_french(bad):
    with pytest.raises(DirectDebitError) as refused:
        clean_iban(bad)
    assert refused.value.field == "iban"
    assert any(w in refused.value.message for w in ("erroné", "caractère nul", "trop long"))


def test_a_bad_bic_is_refused_and_a_good_one_kept():
    assert clean_bic("agri fr pp") == "AGRIFRPP"
    with pytest.raises(DirectDebitError, match="Le BIC .* est erroné"):
        clean_bic("AGRI")


def test_only_the_last_four_characters_of_an_iban_are_shown():
    assert mask_iban(CA_IBAN) == "•••• 0189"


# --- mandates ------------------------------------------------------------------------

def test_each_mandate_gets_its_own_rum(venissieux, regie):
    with in_schema(venissieux):
        martin, diallo = make_payer(regie), make_payer(regie, "Famille Diallo")
        first, second, third = mandate(martin), mandate(martin), mandate(diallo, LBP_IBAN,
                                                                            LBP_BIC)
        rums = {first.rum, second.rum, third.rum}
        assert len(rums) == 3
        assert first.rum == f"123456-R001-{martin.pk}-1"
        assert all(len(r) <= 35 for r in rums)
        with pytest.raises(DirectDebitError, match="existe déjà"):
            mandate(diallo, rum=first.rum)
        audit = AuditEvent.objects.get(code="sepa.mandate_recorded",
                                       target=f"mandate:{first.rum}")
        assert CA_IBAN not in audit.summary and "0189" in audit.summary


def test_a_mandate_needs_a_signature_date_and_a_creditor(venissieux, regie):
    with in_schema(venissieux):
        payer = make_payer(regie)
        with pytest.raises(DirectDebitError, match="date de signature"):
            mandate_record(payer=payer, debtor_name="Martin", iban=CA_IBAN, bic=CA_BIC,
                           signed_on=None, actor=ADMIN)
        other = make_regie("R-002", "Crèche")
        with pytest.raises(DirectDebitError, match="pas d'identifiant créancier"):
            mandate(make_payer(other))


def test_amendment_keeps_the_rum_and_same_bank_stays_recurrent(venissieux, regie):
    with in_schema(venissieux):
        payer = make_payer(regie)
        m = mandate(payer)
        make_invoice(regie, payer, "45.00", number="F-1")
        first = collect(regie=regie, collection_date=DAY, actor=TITULAIRE, today=TODAY)
        assert sequence(first.xml, m.rum) == "FRST"
        amended = mandate_amend(mandate=m, iban=CA_IBAN_2, bic=CA_BIC, actor=ADMIN)
        assert amended.rum == m.rum and amended.iban == CA_IBAN_2
        make_invoice(regie, payer, "30.00", number="F-2")
        second = collect(regie=regie, collection_date=NEXT, actor=TITULAIRE, today=TODAY)
        assert sequence(second.xml, m.rum) == "RCUR"
        tx = transactions(second.xml)[m.rum]
        details = "p:DrctDbtTx/p:MndtRltdInf/"
        assert tx.findtext(details + "p:AmdmntInd", namespaces=NS) == "true"
        assert tx.findtext(details + "p:AmdmntInfDtls/p:OrgnlDbtrAcct/p:Id/p:IBAN",
                           namespaces=NS) == CA_IBAN
        assert tx.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == CA_IBAN_2
        # announced once: the collection after carries no amendment
        make_invoice(regie, payer, "20.00", number="F-3")
        third = collect(regie=regie, collection_date=datetime.date(2027, 2, 15),
                        actor=TITULAIRE, today=TODAY)
        tx = transactions(third.xml)[m.rum]
        assert tx.find("p:DrctDbtTx/p:MndtRltdInf/p:AmdmntInd", NS) is None


def test_a_new_bank_makes_the_next_collection_first_with_smnda(venissieux, regie):
    with in_schema(venissieux):
        payer = make_payer(regie)
        m = mandate(payer)
        make_invoice(regie, payer, "45.00", number="F-1")
        collect(regie=regie, collection_date=DAY, actor=TITULAIRE, today=TODAY)
        mandate_amend(mandate=m, iban=LBP_IBAN, bic=LBP_BIC, actor=ADMIN)
        make_invoice(regie, payer, "30.00", number="F-2")
        second = collect(regie=regie, collection_date=NEXT, actor=TITULAIRE, today=TODAY)
        assert sequence(second.xml, m.rum) == "FRST"
        tx = transactions(second.xml)[m.rum]
        assert tx.findtext("p:DrctDbtTx/p:MndtRltdInf/p:AmdmntInfDtls/p:OrgnlDbtrAgt/"
                           "p:FinInstnId/p:Othr/p:Id", namespaces=NS) == "SMNDA"
        pain008.validate(second.xml.encode())


def test_a_change_before_the_first_debit_is_no_amendment(venissieux, regie):
    with in_schema(venissieux):
        payer = make_payer(regie)
        m = mandate_amend(mandate=mandate(payer), iban=LBP_IBAN, bic=LBP_BIC, actor=ADMIN)
        assert not m.amendment_pending
        make_invoice(regie, payer, "45.00")
        first = collect(regie=regie, collection_date=DAY, actor=TITULAIRE, today=TODAY)
        tx = transactions(first.xml)[m.rum]
        assert sequence(first.xml, m.rum) == "FRST"
        assert tx.find("p:DrctDbtTx/p:MndtRltdInf/p:AmdmntInd", NS) is None
        assert tx.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == LBP_IBAN


def test_a_revoked_mandate_is_not_collected(venissieux, regie):
    with in_schema(venissieux):
        payer = make_payer(regie)
        m = mandate(payer)
        make_invoice(regie, payer, "45.00")
        mandate_revoke(mandate=m, reason="Courrier de la famille du 2 décembre", actor=ADMIN)
        assert not collectable(regie, DAY).exists()
        with pytest.raises(DirectDebitError, match="déjà révoqué"):
            mandate_revoke(mandate=m, reason="encore", actor=ADMIN)
        with pytest.raises(DirectDebitError, match="ne peut plus être modifié"):
            mandate_amend(mandate=Mandate.objects.get(pk=m.pk), iban=LBP_IBAN, bic=LBP_BIC,
                          actor=ADMIN)


def test_a_mandate_unused_for_36_months_lapses(venissieux, regie):
    with in_schema(venissieux):
        payer = make_payer(regie)
        used = mandate(payer)
        never = mandate(make_payer(regie, "Famille Diallo"))
        Mandate.objects.filter(pk=used.pk).update(last_collected_on=datetime.date(2027, 1, 15))
        assert lapse_unused(on=datetime.date(2029, 8, 31), actor=ADMIN) == 0
        assert lapse_unused(on=datetime.date(2029, 9, 1), actor=ADMIN) == 1  # signed 1/9/2026
        assert Mandate.objects.get(pk=never.pk).status == "lapsed"
        assert Mandate.objects.get(pk=used.pk).status == "active"
        assert lapse_unused(on=datetime.date(2030, 1, 15), actor=ADMIN) == 1
        assert Mandate.objects.get(pk=used.pk).status == "lapsed"


# --- collections ---------------------------------------------------------------------

def test_the_collection_file_validates_and_its_totals_are_the_invoices(venissieux, regie):
    with in_schema(venissieux):
        martin, diallo = make_payer(regie), make_payer(regie, "Famille Diallo-Nguyễn & fils")
        nobody = make_payer(regie, "Famille Sans Mandat")
        m1, m2 = mandate(martin), mandate(diallo, LBP_IBAN, LBP_BIC)
        Mandate.objects.filter(pk=m2.pk).update(last_collected_on=datetime.date(2026, 11, 16))
        make_invoice(regie, martin, "45.10", "12.35", number="F-1")
        partly = make_invoice(regie, diallo, "100.01", number="F-2")
        payment_record(regie=regie, actor=TITULAIRE, amount="33.33", mode="cash",
                       payer=diallo, invoices=[partly])
        make_invoice(regie, diallo, "0.07", number="F-3")
        make_invoice(regie, nobody, "50.00", number="F-4")  # no mandate
        make_invoice(regie, martin, "9.99", number="F-5", due_on=datetime.date(2027, 1, 1))
        collection = collect(regie=regie, collection_date=DAY, actor=TITULAIRE, today=TODAY)
        pain008.validate(collection.xml.encode())
        try_valid_xml(collection.xml.encode(), "pain.008.001.02")  # sepaxml's own (xmlschema)
        broken = collection.xml.replace("<ReqdColltnDt>2026-12-15</ReqdColltnDt>", "", 1)
        with pytest.raises(DirectDebitError, match="invalide : ligne .*ReqdColltnDt"):
            pain008.validate(broken.encode())
        assert collection.count == 3
        assert collection.total == Decimal("57.45") + Decimal("66.68") + Decimal("0.07")
        root = etree.fromstring(collection.xml.encode())
        header = "p:CstmrDrctDbtInitn/p:GrpHdr/"
        assert root.findtext(header + "p:CtrlSum", namespaces=NS) == "124.20"
        assert sequence(collection.xml, m1.rum) == "FRST"
        assert sequence(collection.xml, m2.rum) == "RCUR"
        assert root.findtext(".//p:CdtrSchmeId/p:Id/p:PrvtId/p:Othr/p:Id",
                             namespaces=NS) == ICS
        assert root.findtext(".//p:ReqdColltnDt", namespaces=NS) == "2026-12-15"
        lines = {(line.invoice.number, line.amount, line.sequence_type)
                 for line in CollectionLine.objects.filter(collection=collection)}
        assert lines == {("F-1", Decimal("57.45"), "FRST"), ("F-2", Decimal("66.68"), "RCUR"),
                         ("F-3", Decimal("0.07"), "RCUR")}


def test_an_invoice_already_collected_is_not_collected_twice(venissieux, regie):
    with in_schema(venissieux):
        payer = make_payer(regie)
        mandate(payer)
        make_invoice(regie, payer, "45.00", number="F-1")
        collect(regie=regie, collection_date=DAY, actor=TITULAIRE, today=TODAY)
        with pytest.raises(DirectDebitError, match="Aucune facture à prélever"):
            collect(regie=regie, collection_date=NEXT, actor=TITULAIRE, today=TODAY)
        make_invoice(regie, payer, "10.00", number="F-2")
        second = collect(regie=regie, collection_date=NEXT, actor=TITULAIRE, today=TODAY)
        assert [line.invoice.number for line in second.lines.all()] == ["F-2"]
        assert CollectionLine.objects.filter(invoice__number="F-1").count() == 1


def test_a_one_off_mandate_is_used_once(venissieux, regie):
    with in_schema(venissieux):
        payer = make_payer(regie)
        m = mandate(payer, kind="one_off")
        make_invoice(regie, payer, "45.00", number="F-1")
        first = collect(regie=regie, collection_date=DAY, actor=TITULAIRE, today=TODAY)
        assert sequence(first.xml, m.rum) == "OOFF"
        make_invoice(regie, payer, "10.00", number="F-2")
        assert not collectable(regie, NEXT).exists()


def test_a_collection_date_in_the_past_or_a_weekend_is_refused(venissieux, regie):
    with in_schema(venissieux):
        with pytest.raises(DirectDebitError, match="est passée"):
            collect(regie=regie, collection_date=datetime.date(2026, 12, 1), actor=TITULAIRE,
                    today=TODAY)
        with pytest.raises(DirectDebitError, match="samedi ou dimanche"):
            collect(regie=regie, collection_date=datetime.date(2026, 12, 19),
                    actor=TITULAIRE, today=TODAY)


def test_the_command_writes_the_file(venissieux, regie, tmp_path, monkeypatch):
    with in_schema(venissieux):
        payer = make_payer(regie)
        mandate(payer)
        make_invoice(regie, payer, "45.00", number="F-1")
    out = tmp_path / "remise.xml"
    day = datetime.date.today() + datetime.timedelta(days=10)
    while day.weekday() >= 5:
        day += datetime.timedelta(days=1)
    call_command("sepa_collect", venissieux.slug, "R-001", "--date", day.isoformat(),
                 "--out", str(out))
    pain008.validate(out.read_bytes())
    assert b"<CtrlSum>45.00</CtrlSum>" in out.read_bytes()
    with pytest.raises(CommandError, match="n'est pas une date") as refused:
        call_command("sepa_collect", venissieux.slug, "R-001", "--date", "2026-13-45",
                     "--out", str(out))
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="caractère nul"):
        call_command("sepa_collect", venissieux.slug, "R\x00", "--date", day.isoformat(),
                     "--out", str(out))
    with pytest.raises(CommandError, match="Aucune régie"):
        call_command("sepa_collect", venissieux.slug, "R-999", "--date", day.isoformat(),
                     "--out", str(out))


def test_the_creditor_is_recorded_by_command_and_a_bad_ics_refused(venissieux, regie):
    call_command("sepa_creditor", venissieux.slug, "R-001", "--ics", "FR95ZZZ5A1B2C",
                 "--iban", LBP_IBAN, "--bic", LBP_BIC, "--name", "Vénissieux cantine")
    with in_schema(venissieux):
        assert regie.__class__.objects.get(pk=regie.pk).creditor.ics == "FR95ZZZ5A1B2C"
    with pytest.raises(CommandError, match="chiffres de contrôle") as refused:
        call_command("sepa_creditor", venissieux.slug, "R-001", "--ics", "FR96ZZZ5A1B2C",
                     "--iban", LBP_IBAN, "--bic", LBP_BIC, "--name", "Vénissieux cantine")
    assert refused.value.returncode == 2


def test_the_payers_data_export_lists_the_mandates_iban_masked(venissieux, regie):
    with in_schema(venissieux):
        payer = make_payer(regie)
        m = mandate(payer)
        export = payer_data_export(payer=payer, actor=ADMIN)
    assert export["direct_debit_mandates"][0]["rum"] == m.rum
    assert export["direct_debit_mandates"][0]["iban"] == "•••• 0189"
    assert CA_IBAN not in json.dumps(export, ensure_ascii=False)


def test_an_active_mandate_keeps_the_payers_details_until_it_is_revoked(venissieux, regie):
    """The bank debits in the debtor's name: neither an erasure on request nor the
    retention job takes a payer's details while a mandate is active (the régies ask the
    direct debit through ``regies.signals.payer_erasure_asked``)."""
    with in_schema(venissieux):
        payer = make_payer(regie, "Famille Durand", email="durand@exemple.fr",
                           address_line="3 rue des Lilas", postal_code="69200",
                           city="Vénissieux")
        m = mandate(payer)
        with pytest.raises(Refused, match=f"mandat de prélèvement SEPA actif \\({m.rum}\\)"):
            payer_erase(payer=payer, actor=ADMIN, reason="Demande du payeur")
        in_2040 = datetime.date(2040, 1, 1)  # long past any retention period
        system = Actor.system("conservation des données des payeurs")
        assert payers_pseudonymise(actor=system, years=5, linked=[], today=in_2040) == 0
        payer.refresh_from_db()
        assert payer.email == "durand@exemple.fr" and payer.name == "Famille Durand"

        mandate_revoke(mandate=m, reason="Courrier de la famille", actor=ADMIN)
        assert payer_erase(payer=payer, actor=ADMIN, reason="Demande du payeur")
        assert payers_pseudonymise(actor=system, years=5, linked=[], today=in_2040) == 1
        payer.refresh_from_db()
        assert (payer.email, payer.city) == ("", "") and payer.name.startswith("Payeur ")
