"""Imports into a régie: the business software's invoices (CSV), a card terminal's export
(CSV), a bank statement (CAMT.053). What was issued, posted and queued, matching by
reference, bad files refused with their line and column, nothing written by a failed
import, the same file never imported twice, the queue, the command line."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from opsn.audit.models import AuditEvent
from opsn.regies.errors import Duplicate, NotAllowed, Refused, RegieError
from opsn.regies.models import (
    ImportBatch,
    ImportedPayment,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    Payer,
    ReceiptCounter,
)
from opsn.regies.services import founding, invoicing
from opsn.regies.services.imports import (
    bank_statement_import,
    card_payments_import,
    invoices_import,
    queued_payment_dismiss,
    queued_payment_post,
    reference_tokens,
)
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    STRANGER,
    TITULAIRE,
    make_invoice,
    make_payer,
    make_regie,
)

YEAR = timezone.localdate().year


def receipt(n: int) -> str:
    return f"{YEAR}-{n:06d}"


def csv_file(*rows: str, delimiter: str = ";", bom: bool = False) -> bytes:
    text = "\r\n".join(row.replace(";", delimiter) for row in rows) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def counts() -> dict[str, int]:
    """Everything an import may write."""
    return {model.__name__: model.objects.count() for model in (
        ImportBatch, ImportedPayment, Invoice, InvoiceLine, LedgerEntry, Payer, ReceiptCounter,
        AuditEvent)}


def cantine():
    regie = make_regie()
    founding.product_save(regie=regie, actor=ADMIN, code="repas", name="Repas", unit_price="3.85")
    founding.product_save(regie=regie, actor=ADMIN, code="garderie", name="Garderie du soir",
                          unit_price="2.10")
    return regie


# --- Invoices ------------------------------------------------------------------------------

INVOICE_HEADER = ("numero;payeur_ref;payeur_nom;payeur_email;payeur_adresse;payeur_code_postal;"
                  "payeur_ville;date;echeance;objet;produit;libelle;quantite;prix_unitaire;"
                  "periode_debut;periode_fin;beneficiaire")


def invoice_rows() -> list[str]:
    return [
        INVOICE_HEADER,
        "F2026-1101;FAM-0042;Famille Martin;martin@example.fr;12 rue Paul Bert;69200;Vénissieux;"
        "02/11/2026;30/11/2026;Restauration scolaire — octobre;repas;;17;;01/10/2026;31/10/2026;"
        "Léa Martin",
        "F2026-1101;FAM-0042;Famille Martin;;;;;02/11/2026;30/11/2026;Restauration scolaire — "
        "octobre;garderie;;4;;2026-10-01;2026-10-31;Léa Martin",
        "F2026-1102;FAM-0077;Famille Diallo;diallo@example.fr;3 avenue Jean Jaurès;69200;"
        "Vénissieux;2026-11-02;;Séjour;;Classe de neige (acompte);1;120,50;;;Moussa Diallo",
    ]


def test_invoices_are_issued_from_the_business_software_export(venissieux):
    with in_schema(venissieux):
        regie = cantine()
        martin = make_payer(regie, "Famille Martin", external_ref="FAM-0042")
        batch = invoices_import(regie=regie, actor=MANDATAIRE, content=csv_file(
            *invoice_rows(), bom=True), file_name="factures-novembre.csv")
        first, second = Invoice.objects.order_by("number")
        assert (first.number, first.payer, first.total, first.status) == (
            "F2026-1101", martin, Decimal("73.85"), "due")  # 17 × 3,85 + 4 × 2,10
        assert (first.issued_on, first.due_on) == (datetime.date(2026, 11, 2),
                                                   datetime.date(2026, 11, 30))
        assert [(line.label, line.quantity, line.amount, line.beneficiary, line.period_end)
                for line in first.lines.all()] == [
            ("Repas", Decimal("17.000"), Decimal("65.45"), "Léa Martin",
             datetime.date(2026, 10, 31)),
            ("Garderie du soir", Decimal("4.000"), Decimal("8.40"), "Léa Martin",
             datetime.date(2026, 10, 31))]
        diallo = second.payer
        assert (second.total, second.due_on) == (Decimal("120.50"), datetime.date(2026, 12, 2))
        assert (diallo.name, diallo.external_ref, diallo.email, diallo.city) == (
            "Famille Diallo", "FAM-0077", "diallo@example.fr", "Vénissieux")
        assert len(diallo.link_code) == 14
        assert {inv.source for inv in (first, second)} == {"import"}
        assert {inv.import_batch for inv in (first, second)} == {batch}
        assert batch.outcome == {"rows": 3, "invoices": 2, "invoice_lines": 3,
                                 "total": "194.35", "payers_created": 1, "payers_found": 1,
                                 "already_imported": 0}
        audit = AuditEvent.objects.filter(code="file.imported").get()
        assert audit.summary == ("Import factures (CSV) « factures-novembre.csv » dans la régie "
                                 "R-001 : 2 factures émises (194,35 €, 3 lignes), 1 payeur "
                                 "créé")
        assert audit.actor == MANDATAIRE.account
        assert not AuditEvent.objects.filter(code__in=["invoice.issued", "payer.saved"],
                                             target__contains="F2026").exists()


def test_a_comma_separated_export_and_a_second_export_that_repeats_invoices(venissieux):
    with in_schema(venissieux):
        regie = cantine()
        october = csv_file("numero,payeur_ref,payeur_nom,date,libelle,quantite,prix_unitaire",
                           'F-0001,FAM-1,Famille Petit,01/10/2026,Garderie,"1,5","12,50"',
                           delimiter=",")
        invoices_import(regie=regie, actor=TITULAIRE, content=october, file_name="oct.csv")
        assert Invoice.objects.get(number="F-0001").total == Decimal("18.75")
        # The next export carries October again, and November.
        both = csv_file("numero,payeur_ref,payeur_nom,date,libelle,quantite,prix_unitaire",
                        'F-0001,FAM-1,Famille Petit,01/10/2026,Garderie,"1,5","12,50"',
                        'F-0002,FAM-1,Famille Petit,01/11/2026,Garderie,2,"12,50"',
                        delimiter=",")
        batch = invoices_import(regie=regie, actor=TITULAIRE, content=both, file_name="nov.csv")
        assert (batch.outcome["invoices"], batch.outcome["already_imported"],
                batch.outcome["payers_created"]) == (1, 1, 0)
        assert Invoice.objects.count() == 2 and Payer.objects.count() == 1
        changed = csv_file("numero,payeur_ref,payeur_nom,date,libelle,quantite,prix_unitaire",
                           "F-0001,FAM-1,Famille Petit,01/10/2026,Garderie,2,10", delimiter=",")
        with pytest.raises(Duplicate, match="existe déjà .* le fichier la décrit autrement") as e:
            invoices_import(regie=regie, actor=TITULAIRE, content=changed, file_name="x.csv")
        assert (e.value.line, e.value.field) == (2, "numero")


def test_an_export_in_windows_1252_is_refused_unless_its_encoding_is_given(venissieux):
    with in_schema(venissieux):
        regie = cantine()
        content = "\r\n".join(["numero;payeur_ref;payeur_nom;date;produit;quantite",
                               "F-0100;FAM-9;Famille Lefèvre;05/11/2026;repas;3"]).encode("cp1252")
        with pytest.raises(RegieError, match="n'est pas encodé en UTF-8 .*Windows-1252") as e:
            invoices_import(regie=regie, actor=TITULAIRE, content=content, file_name="a.csv")
        assert e.value.line == 2
        invoices_import(regie=regie, actor=TITULAIRE, content=content, file_name="a.csv",
                        encoding="cp1252")
        assert Payer.objects.get(external_ref="FAM-9").name == "Famille Lefèvre"


def test_an_unknown_product_code_is_refused_with_its_line(venissieux):
    with in_schema(venissieux):
        regie = cantine()
        before = counts()
        content = csv_file("numero;payeur_ref;payeur_nom;date;produit;quantite",
                           "F-0200;FAM-1;Famille Petit;05/11/2026;repas;3",
                           "F-0201;FAM-2;Famille Roux;05/11/2026;piscine;1")
        with pytest.raises(RegieError) as e:
            invoices_import(regie=regie, actor=TITULAIRE, content=content, file_name="a.csv")
        assert (e.value.line, e.value.field) == (3, "produit")
        assert str(e.value) == ("Ligne 3 : La régie Cantine et périscolaire n'a pas de produit "
                                "« piscine » dans son acte constitutif (produits : garderie, "
                                "repas) (colonne « produit »).")
        assert counts() == before


@pytest.mark.parametrize("rows, line, field, message", [
    (["numero;payeur_nom;date;prix_unitaire", "F-1;Famille Petit;05/11/2026;10"], 1,
     "payeur_ref", "Colonne(s) absente(s) de l'en-tête : payeur_ref"),
    (["numero;payeur_ref;payeur_nom;date;libelle;prix_unitaire",
      "F-1;FAM-1;Famille Petit;05/11/2026;Repas;10",
      "F-2;FAM-1;Famille Petit;31/02/2026;Repas;10"], 3, "date",
     "« 31/02/2026 » n'est pas une date (jj/mm/aaaa ou aaaa-mm-jj) (colonne « date »)."),
    (["numero;payeur_ref;payeur_nom;date;libelle;prix_unitaire",
      "F-1;FAM-1;Famille Petit;05/11/2026;Repas;12,505"], 2, "prix_unitaire",
     "12,505 € a plus de deux décimales (colonne « prix_unitaire »)."),
    (["numero;payeur_ref;payeur_nom;date;libelle;prix_unitaire",
      "F-1;FAM-1;Famille Petit;05/11/2026;Repas;douze"], 2, "prix_unitaire",
     "« douze » n'est pas un montant"),
    (["numero;payeur_ref;payeur_nom;date;libelle;prix_unitaire",
      "F-1;FAM-1;Famille Petit;05/11/2026;Repas;10",
      "F-1;FAM-1;Famille Petit;06/11/2026;Repas;10"], 3, "date",
     "La facture F-1 commence ligne 2 avec « 05/11/2026 » et non « 06/11/2026 »"),
    (["numero;payeur_ref;payeur_nom;date;libelle;prix_unitaire",
      "F-1;FAM-1;Famille Petit;05/11/2026;Repas;10;12"], 2, None,
     "La ligne a 7 colonnes, l'en-tête 6"),
    (["numero;payeur_ref;payeur_nom;date;libelle;prix_unitaire",
      'F-1;FAM-1;"Famille Petit;05/11/2026;Repas;10'], 2, None, "guillemet"),
    (["numero;payeur_ref;date;libelle;prix_unitaire", "F-1;FAM-1;05/11/2026;Repas;10"], 2,
     "payeur_nom", "Le payeur FAM-1 n'existe pas dans la régie : indiquez son nom"),
    (["numero;payeur_ref;payeur_nom;payeur_email;date;libelle;prix_unitaire",
      "F-1;FAM-1;Famille Petit;petit@;05/11/2026;Repas;10"], 2, "payeur_email",
     "« petit@ » n'est pas une adresse électronique (colonne « payeur_email »)."),
    (["numero;payeur_ref;payeur_nom;date;echeance;libelle;prix_unitaire",
      "F-1;FAM-1;Famille Petit;05/11/2026;01/11/2026;Repas;10"], 2, "echeance",
     "L'échéance précède la date de la facture (colonne « echeance »)."),
    (["numero;payeur_ref;payeur_nom;date;libelle;quantite;prix_unitaire;montant",
      "F-1;FAM-1;Famille Petit;05/11/2026;Garderie;0,5;1,25;0,62"], 2, "montant",
     "n'est pas 0.5 × 1,25 € = 0,63 €"),
    (["numero;payeur_ref;payeur_nom;date"], 2, None, "ne contient aucune facture"),
])
def test_a_malformed_invoice_file_names_the_line_and_the_column(venissieux, rows, line, field,
                                                               message):
    with in_schema(venissieux):
        regie = cantine()
        before = counts()
        with pytest.raises(RegieError) as e:
            invoices_import(regie=regie, actor=TITULAIRE, content=csv_file(*rows),
                            file_name="factures.csv")
        assert message in e.value.message
        assert (e.value.line, e.value.field) == (line, field)
        assert str(e.value).startswith(f"Ligne {line} : ")
        assert counts() == before


def test_a_failing_row_in_the_middle_leaves_nothing_at_all(venissieux):
    """The new payers of the first rows were written before the bad row was found: they
    are rolled back with everything else."""
    with in_schema(venissieux):
        regie = cantine()
        make_payer(regie, "Famille Martin", external_ref="FAM-0042")
        before = counts()
        rows = invoice_rows()
        rows.insert(3, "F2026-1103;FAM-0099;Famille Nguyen;;;;;02/11/2026;;;repas;;-2;;;;")
        with pytest.raises(RegieError) as e:
            invoices_import(regie=regie, actor=TITULAIRE, content=csv_file(*rows),
                            file_name="factures.csv")
        assert (e.value.line, e.value.field) == (4, "quantite")
        assert "La quantité doit être positive" in e.value.message
        assert counts() == before
        # The same failure found only while writing: an invoice number already taken by
        # another régie's invoice, after the file's new payers were created.
        other = make_regie("R-002", "Piscine", staff=False)
        make_invoice(other, make_payer(other, "Famille Roux"), "10.00", number="F2026-1102")
        before = counts()
        with pytest.raises(Duplicate) as e:
            invoices_import(regie=regie, actor=TITULAIRE, content=csv_file(*invoice_rows()),
                            file_name="factures.csv")
        assert e.value.line == 4
        assert counts() == before


# --- Card terminal -------------------------------------------------------------------------

CARD_HEADER = "date;montant;transaction;terminal;reference;payeur_ref;payeur_nom;numero_carte"


def card_file(*rows: str) -> bytes:
    return csv_file(CARD_HEADER, *rows)


def card_setup():
    regie = cantine()
    martin = make_payer(regie, "Famille Martin", external_ref="FAM-0042")
    diallo = make_payer(regie, "Famille Diallo", external_ref="FAM-0077")
    invoices = {
        "martin_oct": make_invoice(regie, martin, "45.00", number="F2026-1001"),
        "martin_nov": make_invoice(regie, martin, "32.40", number="F2026-1002"),
        "diallo": make_invoice(regie, diallo, "30.00", number="F2026-1003"),
    }
    return regie, martin, diallo, invoices


def test_card_payments_are_posted_to_the_invoice_they_name_and_the_rest_is_queued(venissieux):
    with in_schema(venissieux):
        regie, martin, diallo, inv = card_setup()
        content = card_file(
            "25/11/2026 09:14:02;45,00;TX-000981;TPE-01;F2026-1001;;;XXXX XXXX XXXX 1234",
            "25/11/2026 10:02:40;20,00;TX-000982;TPE-01;Fact. f2026-1003 cantine;;;",
            "26/11/2026;32,40;TX-000983;TPE-02;;FAM-0042;Martin;",
            "26/11/2026;15,00;TX-000984;TPE-02;inscription piscine;;Mme Roux;",
            "26/11/2026;50,00;TX-000985;TPE-02;F2026-1003;;;",
        )
        batch = card_payments_import(regie=regie, actor=MANDATAIRE, content=content,
                                     file_name="tpe-2026-11-26.csv")
        entries = list(LedgerEntry.objects.order_by("receipt_number"))
        assert [(e.receipt, e.amount, e.mode, e.source, e.external_ref, e.payer)
                for e in entries] == [
            (receipt(1), Decimal("45.00"), "card", "card_import", "TX-000981", martin),
            (receipt(2), Decimal("20.00"), "card", "card_import", "TX-000982", diallo),
            (receipt(3), Decimal("32.40"), "card", "card_import", "TX-000983", martin)]
        assert entries[0].details == {"terminal_ref": "TX-000981", "paid_on": "2026-11-25",
                                      "terminal": "TPE-01"}
        assert "1234" not in str(entries[0].details)  # card numbers are never kept
        for invoice in inv.values():
            invoice.refresh_from_db()
        assert [(i.number, i.status, i.amount_paid) for i in inv.values()] == [
            ("F2026-1001", "paid", Decimal("45.00")), ("F2026-1002", "paid", Decimal("32.40")),
            ("F2026-1003", "partly_paid", Decimal("20.00"))]
        queued = list(ImportedPayment.objects.order_by("line"))
        assert [(q.line, q.amount, q.status, q.external_ref, q.payer_hint, q.note)
                for q in queued] == [
            (5, Decimal("15.00"), "pending", "TX-000984", "Mme Roux",
             "Aucune facture à payer reconnue dans la référence « inscription piscine »."),
            (6, Decimal("50.00"), "pending", "TX-000985", "",
             "50,00 € dépassent ce que doit encore la facture F2026-1003 (10,00 €) : "
             "affectez le reste (avoir, autre facture) ou remboursez.")]
        assert batch.outcome == {
            "payments": 5, "posted": 3, "matched_by_reference": 2, "matched_by_payer": 1,
            "queued": 2, "already_imported": 0, "total_posted": "97.40", "total_queued": "65.00",
            "first_receipt": receipt(1), "last_receipt": receipt(3)}
        assert list(AuditEvent.objects.filter(target=f"import:{batch.pk}")
                    .values_list("summary", flat=True)) == [
            "Import paiements TPE (CSV) « tpe-2026-11-26.csv » dans la régie R-001 : 3 paiements "
            f"encaissés (97,40 €, quittances {receipt(1)} à {receipt(3)}), 2 à rapprocher "
            "(65,00 €)"]
        assert not AuditEvent.objects.filter(code="payment.recorded").exists()


def test_the_same_file_twice_and_an_export_that_overlaps_the_last_one(venissieux):
    with in_schema(venissieux):
        regie, *_ = card_setup()
        first = card_file("25/11/2026;45,00;TX-1;TPE-01;F2026-1001;;;",
                          "25/11/2026;9,00;TX-2;TPE-01;?;;;")
        batch = card_payments_import(regie=regie, actor=MANDATAIRE, content=first,
                                     file_name="tpe.csv")
        before = counts()
        with pytest.raises(Duplicate) as e:
            card_payments_import(regie=regie, actor=TITULAIRE, content=first,
                                 file_name="tpe-encore.csv")
        at = timezone.localtime(batch.imported_at)
        assert e.value.message == (
            f"Ce fichier a déjà été importé dans la régie Cantine et périscolaire le "
            f"{at:%d/%m/%Y} à {at:%H:%M} par {MANDATAIRE.account} (« tpe.csv ») : il n'est pas "
            "importé une seconde fois.")
        assert counts() == before
        overlapping = card_file("25/11/2026;45,00;TX-1;TPE-01;F2026-1001;;;",
                                "25/11/2026;9,00;TX-2;TPE-01;?;;;",
                                "26/11/2026;30,00;TX-3;TPE-01;F2026-1003;;;")
        again = card_payments_import(regie=regie, actor=MANDATAIRE, content=overlapping,
                                     file_name="tpe-semaine.csv")
        assert (again.outcome["posted"], again.outcome["queued"],
                again.outcome["already_imported"]) == (1, 0, 2)
        assert LedgerEntry.objects.count() == 2 and ImportedPayment.objects.count() == 1


def test_a_card_file_with_a_bad_row_in_the_middle_changes_nothing(venissieux):
    with in_schema(venissieux):
        regie, *_ = card_setup()
        before = counts()
        with pytest.raises(RegieError) as e:
            card_payments_import(regie=regie, actor=MANDATAIRE, content=card_file(
                "25/11/2026;45,00;TX-1;TPE-01;F2026-1001;;;",
                "25/11/2026;-9,00;TX-2;TPE-01;remboursement;;;",
                "25/11/2026;30,00;TX-3;TPE-01;F2026-1003;;;"), file_name="tpe.csv")
        assert str(e.value) == ("Ligne 3 : Le montant doit être positif (colonne « montant »).")
        assert e.value.field == "montant"
        with pytest.raises(Duplicate, match="TX-1 apparaît deux fois dans le fichier, lignes "
                                            "2 et 3 .colonne « transaction »") as e:
            card_payments_import(regie=regie, actor=MANDATAIRE, content=card_file(
                "25/11/2026;45,00;TX-1;TPE-01;F2026-1001;;;",
                "25/11/2026;30,00;TX-1;TPE-01;F2026-1003;;;"), file_name="tpe.csv")
        assert (e.value.line, e.value.field) == (3, "transaction")
        assert counts() == before


def test_a_regie_that_takes_no_card_refuses_a_terminal_export(venissieux):
    with in_schema(venissieux):
        regie = make_regie("R-009", "Cimetière", accepted_modes=["cheque", "transfer"])
        with pytest.raises(Refused, match="n'accepte pas les paiements par carte bancaire"):
            card_payments_import(regie=regie, actor=TITULAIRE, content=card_file(
                "25/11/2026;45,00;TX-1;;;;;"), file_name="tpe.csv")
        assert not ImportBatch.objects.exists()


def test_references_give_invoice_numbers_in_order():
    assert reference_tokens("Facture F2026-1101, cantine/F2026-1102 LÉA") == [
        "FACTURE", "F2026-1101", "CANTINE/F2026-1102", "CANTINE", "F2026-1102"]
    assert reference_tokens("REPAS 12 NOV 2026") == ["REPAS", "2026"]


# --- Bank statement ------------------------------------------------------------------------

def camt053(*entries: str, version: str = "08") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>STMT-20261126</MsgId><CreDtTm>2026-11-27T06:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>FR76-30001-00794-2026-11-26</Id>
      <Acct><Id><IBAN>FR7630001007941234567890185</IBAN></Id><Ccy>EUR</Ccy></Acct>
{"".join(entries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()


def entry(amount: str, *, ref: str, ustrd: str = "", creditor_ref: str = "",
          debtor: str = "", direction: str = "CRDT", status: str = "BOOK",
          currency: str = "EUR", version: str = "08", transactions: str = "") -> str:
    status_xml = f"<Sts><Cd>{status}</Cd></Sts>" if version >= "08" else f"<Sts>{status}</Sts>"
    party = (f"<Dbtr><Pty><Nm>{debtor}</Nm></Pty></Dbtr>" if version >= "08"
             else f"<Dbtr><Nm>{debtor}</Nm></Dbtr>")
    remittance = ("<RmtInf>" + (f"<Ustrd>{ustrd}</Ustrd>" if ustrd else "")
                  + (f"<Strd><CdtrRefInf><Ref>{creditor_ref}</Ref></CdtrRefInf></Strd>"
                     if creditor_ref else "") + "</RmtInf>")
    details = transactions or (
        f"<TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
        f"{f'<RltdPties>{party}</RltdPties>' if debtor else ''}{remittance}</TxDtls>")
    return f"""
      <Ntry>
        <NtryRef>{ref}-N</NtryRef>
        <Amt Ccy="{currency}">{amount}</Amt>
        <CdtDbtInd>{direction}</CdtDbtInd>
        {status_xml}
        <BookgDt><Dt>2026-11-26</Dt></BookgDt>
        <ValDt><Dt>2026-11-26</Dt></ValDt>
        <AcctSvcrRef>{ref}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>{details}</NtryDtls>
      </Ntry>"""


@pytest.mark.parametrize("version", ["02", "08"])
def test_a_bank_statement_posts_the_transfers_it_can_match(venissieux, version):
    with in_schema(venissieux):
        regie, martin, diallo, inv = card_setup()
        two = ("<TxDtls><Refs><AcctSvcrRef>BQ-5-1</AcctSvcrRef></Refs><Amt Ccy='EUR'>30.00</Amt>"
               "<RmtInf><Ustrd>F2026-1003</Ustrd></RmtInf></TxDtls>"
               "<TxDtls><Refs><EndToEndId>E2E-77</EndToEndId></Refs><Amt Ccy='EUR'>12.00</Amt>"
               "<RmtInf><Ustrd>DON ASSOCIATION</Ustrd></RmtInf></TxDtls>")
        content = camt053(
            entry("45.00", ref="BQ-1", ustrd="CANTINE OCTOBRE F2026-1001 MARTIN",
                  debtor="M. JEAN MARTIN", version=version),
            entry("1250.00", ref="BQ-2", direction="DBIT", ustrd="LOYER", version=version),
            entry("32.40", ref="BQ-3", creditor_ref="RF18F20261002", version=version),
            entry("60.00", ref="BQ-4", ustrd="VIREMENT", debtor="Famille Diallo",
                  version=version),
            entry("42.00", ref="BQ-5", version=version, transactions=two),
            entry("10.00", ref="BQ-6", status="PDNG", ustrd="F2026-1003", version=version),
            version=version)
        batch = bank_statement_import(regie=regie, actor=TITULAIRE, content=content,
                                      file_name="releve-2026-11-26.xml")
        entries = list(LedgerEntry.objects.order_by("receipt_number"))
        assert [(e.receipt, e.amount, e.mode, e.source, e.external_ref, e.payer)
                for e in entries] == [
            (receipt(1), Decimal("45.00"), "transfer", "bank_import", "BQ-1", martin),
            (receipt(2), Decimal("30.00"), "transfer", "bank_import", "BQ-5-1", diallo)]
        assert entries[0].details == {
            "paid_on": "2026-11-26", "reference": "CANTINE OCTOBRE F2026-1001 MARTIN",
            "debtor": "M. JEAN MARTIN"}
        queued = list(ImportedPayment.objects.order_by("amount"))
        assert [(q.amount, q.mode, q.external_ref, q.payer_hint, q.note[:40]) for q in queued] == [
            (Decimal("12.00"), "transfer", "E2E-77", "",
             "Aucune facture à payer reconnue dans la "),
            (Decimal("32.40"), "transfer", "BQ-3", "", "Aucune facture à payer reconnue dans la "),
            (Decimal("60.00"), "transfer", "BQ-4", "Famille Diallo (réf. FAM-0077)",
             "Payeur reconnu (Famille Diallo), mais au")]
        assert queued[0].paid_on == datetime.date(2026, 11, 26)
        assert batch.outcome == {
            "payments": 5, "posted": 2, "matched_by_reference": 2, "matched_by_payer": 0,
            "queued": 3, "already_imported": 0, "total_posted": "75.00",
            "total_queued": "104.40", "first_receipt": receipt(1), "last_receipt": receipt(2),
            "version": f"camt.053.001.{version}", "entries": 6, "debits_ignored": 1,
            "others_ignored": 1}
        inv["martin_oct"].refresh_from_db()
        assert inv["martin_oct"].status == "paid"


def test_a_debtor_named_like_one_payer_pays_the_invoice_of_that_amount(venissieux):
    with in_schema(venissieux):
        regie, *_ = card_setup()
        make_invoice(regie, make_payer(regie, "Famille Lefèvre"), "18.20", number="F2026-1004")
        batch = bank_statement_import(regie=regie, actor=TITULAIRE, content=camt053(
            entry("30.00", ref="BQ-1", ustrd="VIR SEPA", debtor="FAMILLE DIALLO"),
            entry("18.20", ref="BQ-2", debtor="famille lefevre")), file_name="releve.xml")
        assert batch.outcome["matched_by_payer"] == 2
        assert set(Invoice.objects.filter(status="paid").values_list("number", flat=True)) == {
            "F2026-1003", "F2026-1004"}


def test_a_transfer_naming_a_paid_or_cancelled_invoice_waits_with_the_reason(venissieux):
    with in_schema(venissieux):
        regie, *_ = card_setup()
        card_payments_import(regie=regie, actor=TITULAIRE, content=card_file(
            "25/11/2026;45,00;TX-1;;F2026-1001;;;"), file_name="tpe.csv")
        invoicing.invoice_cancel(invoice=Invoice.objects.get(number="F2026-1002"), actor=ADMIN,
                                 reason="Erreur de tarif")
        bank_statement_import(regie=regie, actor=TITULAIRE, content=camt053(
            entry("45.00", ref="BQ-1", ustrd="F2026-1001"),
            entry("32.40", ref="BQ-2", ustrd="f2026-1002")), file_name="releve.xml")
        assert list(ImportedPayment.objects.order_by("line").values_list("note", flat=True)) == [
            "La facture F2026-1001 est déjà payée.", "La facture F2026-1002 est annulée."]


@pytest.mark.parametrize("content, line, field, message", [
    (camt053(entry("45.00", ref="BQ-1", ustrd="x")).replace(b"</Ustrd>", b"</Ustr>"), 18, "xml",
     "Le fichier XML est mal formé : il est tronqué ou abîmé (détail : Opening and ending tag "
     "mismatch: Ustrd"),
    (camt053(entry("45.00", ref="BQ-1"))[:600], None, "xml", "Le fichier XML est mal formé"),
    (camt053(entry("45.00", ref="BQ-1"), entry("99.00", ref="BQ-2", currency="USD")), 22, "Ccy",
     "Montant en USD : la régie n'encaisse qu'en euros (EUR), le relevé est refusé."),
    (camt053(entry("45.005", ref="BQ-1")), 11, "Amt",
     "45.005 € a plus de deux décimales (élément <Amt>)."),
    (camt053(entry("45.00", ref="BQ-1")).replace(b"camt.053.001.08", b"camt.054.001.08"), 2,
     "xml", "Ce fichier n'est pas un relevé de compte CAMT.053 "
     "(urn:iso:std:iso:20022:tech:xsd:camt.054.001.08)"),
    (b"date;montant\n01/11/2026;12,00\n", 1, "xml", "Le fichier XML est mal formé"),
])
def test_a_bad_bank_statement_is_refused_with_its_line(venissieux, content, line, field,
                                                      message):
    with in_schema(venissieux):
        regie, *_ = card_setup()
        before = counts()
        with pytest.raises(RegieError) as e:
            bank_statement_import(regie=regie, actor=TITULAIRE, content=content,
                                  file_name="releve.xml")
        assert e.value.message.startswith(message), e.value.message
        assert e.value.field == field
        if line is not None:
            assert e.value.line == line
        else:
            assert e.value.line and e.value.line > 1
        assert counts() == before


@pytest.mark.parametrize("kind", ["invoices", "card", "bank"])
def test_an_agent_not_assigned_to_the_regie_may_not_import(venissieux, kind):
    with in_schema(venissieux):
        regie, *_ = card_setup()
        before = counts()
        importer, content = {
            "invoices": (invoices_import, csv_file(*invoice_rows())),
            "card": (card_payments_import, card_file("25/11/2026;45,00;TX-1;;F2026-1001;;;")),
            "bank": (bank_statement_import, camt053(entry("45.00", ref="BQ-1"))),
        }[kind]
        with pytest.raises(NotAllowed, match="n'est ni régisseur ni mandataire"):
            importer(regie=regie, actor=STRANGER, content=content, file_name="f")
        with pytest.raises(NotAllowed):  # the commune's administrator does not collect either
            importer(regie=regie, actor=ADMIN, content=content, file_name="f")
        assert counts() == before


# --- The queue -----------------------------------------------------------------------------

def queued_setup():
    regie, martin, _, inv = card_setup()
    bank_statement_import(regie=regie, actor=TITULAIRE, content=camt053(
        entry("77.40", ref="BQ-1", ustrd="MARTIN CANTINE", debtor="JEAN MARTIN"),
        entry("25.00", ref="BQ-2", ustrd="ERREUR DE DESTINATAIRE")), file_name="releve.xml")
    first, second = ImportedPayment.objects.order_by("line")
    return regie, martin, inv, first, second


def test_an_agent_posts_a_queued_payment_to_invoices(venissieux):
    with in_schema(venissieux):
        regie, martin, inv, item, _ = queued_setup()
        entry_ = queued_payment_post(item=item, actor=MANDATAIRE,
                                     invoices=[inv["martin_oct"], inv["martin_nov"]])
        assert (entry_.receipt, entry_.amount, entry_.mode, entry_.source, entry_.external_ref,
                entry_.payer) == (receipt(1), Decimal("77.40"), "transfer", "bank_import",
                                  "BQ-1", martin)
        item.refresh_from_db()
        assert (item.status, item.entry, item.resolved_by) == ("posted", entry_,
                                                              MANDATAIRE.account)
        assert set(Invoice.objects.filter(payer=martin).values_list("status", flat=True)) == {
            "paid"}
        assert AuditEvent.objects.get(code="queue.resolved").summary == (
            f"Paiement importé ligne {item.line} (77,40 €) : encaissé, quittance {receipt(1)} "
            "(Famille Martin)")
        with pytest.raises(Duplicate, match=f"déjà encaissé \\(quittance {receipt(1)}\\)"):
            queued_payment_post(item=item, actor=MANDATAIRE, payer=martin)
        # Imported again in another statement: it is known, nothing doubles.
        again = bank_statement_import(regie=regie, actor=TITULAIRE, content=camt053(
            entry("77.40", ref="BQ-1", ustrd="MARTIN CANTINE")), file_name="releve-bis.xml")
        assert again.outcome["already_imported"] == 1
        assert LedgerEntry.objects.count() == 1


def test_a_queued_payment_needs_a_payer_or_an_invoice(venissieux):
    with in_schema(venissieux):
        _, martin, _, item, _ = queued_setup()
        with pytest.raises(RegieError, match="ne sont affectés à rien"):
            queued_payment_post(item=item, actor=MANDATAIRE)
        entry_ = queued_payment_post(item=item, actor=MANDATAIRE, payer=martin)
        assert entry_.payer == martin  # the payer's credit, until an invoice takes it
        with pytest.raises(NotAllowed):
            queued_payment_post(item=ImportedPayment.objects.get(external_ref="BQ-2"),
                                actor=STRANGER, payer=martin)


def test_the_titulaire_dismisses_a_queued_payment_with_a_reason(venissieux):
    with in_schema(venissieux):
        _, martin, _, _, item = queued_setup()
        with pytest.raises(RegieError, match="Donnez le motif"):
            queued_payment_dismiss(item=item, actor=TITULAIRE, reason="  ")
        with pytest.raises(NotAllowed, match="Seul le régisseur titulaire"):
            queued_payment_dismiss(item=item, actor=MANDATAIRE, reason="pas pour nous")
        queued_payment_dismiss(item=item, actor=TITULAIRE,
                               reason="Virement destiné au CCAS, renvoyé à l'émetteur")
        item.refresh_from_db()
        assert (item.status, item.note, item.entry) == (
            "dismissed", "Virement destiné au CCAS, renvoyé à l'émetteur", None)
        assert AuditEvent.objects.get(code="queue.resolved").summary == (
            f"Paiement importé ligne {item.line} (25,00 €) : écarté : Virement destiné au CCAS, "
            "renvoyé à l'émetteur")
        with pytest.raises(Duplicate, match="a été écarté le"):
            queued_payment_post(item=item, actor=TITULAIRE, payer=martin)
        assert not LedgerEntry.objects.exists()


# --- Command line --------------------------------------------------------------------------

def test_the_command_line_imports_a_file_and_says_what_it_did(venissieux, tmp_path, capsys):
    with in_schema(venissieux):
        card_setup()
    path = tmp_path / "tpe-2026-11-26.csv"
    path.write_bytes(card_file("25/11/2026;45,00;TX-1;TPE-01;F2026-1001;;;",
                               "25/11/2026;9,00;TX-2;TPE-01;?;;;"))
    call_command("regie_import", str(path), commune="69259", regie="R-001", kind="card",
                 agent="Caisse@Venissieux.fr")
    out = capsys.readouterr().out
    assert ("Import paiements TPE (CSV) « tpe-2026-11-26.csv » dans la régie R-001 Cantine et "
            f"périscolaire (Vénissieux) : 1 paiement encaissé (45,00 €, quittances "
            f"{receipt(1)} à {receipt(1)}), 1 à rapprocher (9,00 €).") in out
    assert "  queued: 1" in out
    with in_schema(venissieux):
        assert LedgerEntry.objects.get().agent == MANDATAIRE.account

    with pytest.raises(CommandError, match="Ce fichier a déjà été importé") as e:
        call_command("regie_import", str(path), commune="69259", regie="R-001", kind="card",
                     agent=MANDATAIRE.account)
    assert e.value.returncode == 4
    bad = tmp_path / "mauvais.csv"
    bad.write_bytes(card_file("25/11/2026;45,00;TX-7;;;;;", "32/11/2026;9,00;TX-8;;;;;"))
    with pytest.raises(CommandError) as e:
        call_command("regie_import", str(bad), commune="69259", regie="R-001", kind="card",
                     agent=MANDATAIRE.account)
    assert e.value.returncode == 2
    assert str(e.value) == ("Ligne 3 : « 32/11/2026 » n'est pas une date (jj/mm/aaaa ou "
                            "aaaa-mm-jj) (colonne « date »).")
    with pytest.raises(CommandError, match="Aucune régie n° « R-404 »") as e:
        call_command("regie_import", str(bad), commune="69259", regie="R-404", kind="card",
                     agent=MANDATAIRE.account)
    assert e.value.returncode == 3
