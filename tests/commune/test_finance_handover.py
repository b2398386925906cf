"""Handing unpaid invoices over to the public accountant: a bordereau of titres de
recettes (one per invoice) written as a PES V2 « PES_Aller » file whose structure, order and
totals are those of the DGFiP's published PES V2 « Aller » structure (no XSD is public: the
structure is checked element by element, docs/finance-guide.md §4); each invoice once; an
invoice handed over can no longer be paid at the counter; bad input refused in French."""

import datetime
import hashlib
import io
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest
from django.core.management import CommandError, call_command

from opsn.audit.models import AuditEvent
from opsn.finance import pes
from opsn.finance.errors import FinanceError
from opsn.finance.handover import handover_create, handover_preview
from opsn.finance.models import Budget, HandedOverInvoice, UnpaidHandover
from opsn.finance.reminders import invoice_contest, invoice_contest_lift
from opsn.finance.selectors import handed_over_of
from opsn.regies.errors import RegieError
from opsn.regies.services import founding, invoicing
from opsn.regies.services.payments import credit_apply, payment_record
from opsn.regies.signals import payments_held
from tests.helpers.communes import in_schema
from tests.helpers.regies import (
    ADMIN,
    MANDATAIRE,
    TITULAIRE,
    make_budget,
    make_payer,
    make_regie,
)

NS = "{http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller}"
DAY = datetime.date(2026, 12, 1)
CUT = datetime.date(2026, 11, 15)


def issue(regie, payer, *lines, number, due_on):
    return invoicing.invoice_issue(
        regie=regie, actor=ADMIN, payer=payer, number=number,
        issued_on=datetime.date(2026, 9, 1), due_on=due_on,
        lines=[invoicing.line_draft(product=p, quantity=q) for p, q in lines])


@pytest.fixture
def unpaid(venissieux):
    """The canteen (7067 / 281) and the after-school club (7067 / 213, régie default 7067);
    Martin owes two invoices (one partly paid), Diallo one; one paid, one not due yet."""
    with in_schema(venissieux):
        regie = make_regie()
        make_budget()
        founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
        meal = founding.product_save(regie=regie, actor=ADMIN, code="repas", name="Repas",
                                     unit_price="4.10")
        club = founding.product_save(regie=regie, actor=ADMIN, code="club", name="Club",
                                     unit_price="12.00", nature="7067", fonction="213")
        martin = make_payer(regie, "Famille Martin", external_ref="FAM-1",
                            address_line="3 rue Paul Bert", postal_code="69200",
                            city="Vénissieux")
        diallo = make_payer(regie, "Famille Diallo", address_line="8 place Léon Sublet",
                            postal_code="69200", city="Vénissieux")
        a = issue(regie, martin, (meal, "10"), (club, "1"), number="F-1",
                  due_on=datetime.date(2026, 10, 31))  # 41.00 + 12.00
        b = issue(regie, martin, (meal, "5"), number="F-2", due_on=datetime.date(2026, 10, 15))
        payment_record(regie=regie, actor=TITULAIRE, amount="10.00", mode="cash",
                       payer=martin, invoices=[b])  # 20.50 - 10.00
        c = issue(regie, diallo, (club, "2"), number="F-3", due_on=datetime.date(2026, 11, 1))
        paid = issue(regie, diallo, (meal, "1"), number="F-PAID",
                     due_on=datetime.date(2026, 10, 1))
        payment_record(regie=regie, actor=TITULAIRE, amount="4.10", mode="cash",
                       payer=diallo, invoices=[paid])
        issue(regie, diallo, (meal, "3"), number="F-LATER", due_on=datetime.date(2026, 11, 20))
        return regie, (a, b, c)


def values(element, *path):
    return [e.get("V") for e in element.findall("/".join(path))]


def test_the_pes_file_has_the_published_structure_and_the_totals_of_what_is_owed(
        venissieux, unpaid):
    regie, _ = unpaid
    with in_schema(venissieux):
        preview = handover_preview(regie=regie, due_before=CUT)
        assert [i.number for i in preview.invoices] == ["F-2", "F-1", "F-3"]
        assert (preview.count, preview.total) == (3, Decimal("87.50"))
        handover = handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)
        data = bytes(handover.file)
    assert (handover.year, handover.number, handover.count) == (2026, 1, 3)
    assert handover.total == Decimal("87.50")  # 10.50 + 53.00 + 24.00: what remains
    assert handover.sha256 == hashlib.sha256(data).hexdigest()
    assert data.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    root = ET.fromstring(data)  # noqa: S314 (the file we wrote)
    assert root.tag == f"{NS}PES_Aller"
    assert [c.tag for c in root] == ["Enveloppe", "EnTetePES", "PES_RecetteAller"]
    assert [c.tag for c in root.find("Enveloppe")] == ["Parametres", "Emetteur"]
    assert values(root, "Enveloppe/Parametres/Version") == ["2"]
    head = root.find("EnTetePES")
    assert [(c.tag, c.get("V")) for c in head] == [
        ("DteStr", "2026-12-01"), ("IdPost", "069027"), ("LibellePoste", "SGC de Vénissieux"),
        ("IdColl", "21690259300005"), ("CodCol", "047"), ("CodBud", "00"),
        ("LibelleColBud", "Ville de Vénissieux – budget principal")]
    recette = root.find("PES_RecetteAller")
    assert [c.tag for c in recette] == ["EnTeteRecette", "Bordereau"]
    assert values(recette, "EnTeteRecette/IdVer") == ["2"]
    slip = recette.find("Bordereau")
    assert [c.tag for c in slip] == ["BlocBordereau", "Piece", "Piece", "Piece"]
    block = {c.tag: c.get("V") for c in slip.find("BlocBordereau")}
    assert list(block) == ["Exer", "IdBord", "DteBordEm", "TypBord", "NbrPce", "MtBordHt",
                           "Objet"]
    assert (block["Exer"], block["IdBord"], block["NbrPce"], block["MtBordHt"]) == (
        "2026", "1", "3", "87.50")
    pieces = slip.findall("Piece")
    for piece in pieces:  # every element carries its value in V (or is a block)
        for element in piece.iter():
            assert element.get("V") is not None or len(element), element.tag
    assert [values(p, "BlocPiece/IdPce") for p in pieces] == [["1"], ["2"], ["3"]]
    assert [values(p, "BlocPiece/NumeroFacture") for p in pieces] == [["F-2"], ["F-1"], ["F-3"]]
    assert [c.tag for c in pieces[1].find("BlocPiece")] == [
        "IdPce", "TypPce", "NatPce", "ObjPce", "NumeroFacture"]
    line = pieces[1].find("LigneDePiece")
    assert [c.tag for c in line] == ["BlocLignePiece", "Tiers"]
    assert [c.tag for c in line.find("BlocLignePiece/InfoLignePiece")] == [
        "IdLigne", "ObjLignePce", "Nature", "Fonction", "Majo", "TvaIntraCom", "MtHT"]
    lines = [(values(x, "BlocLignePiece/InfoLignePiece/Nature")[0],
              values(x, "BlocLignePiece/InfoLignePiece/Fonction")[0],
              values(x, "BlocLignePiece/InfoLignePiece/MtHT")[0])
             for x in pieces[1].findall("LigneDePiece")]
    assert lines == [("7067", "281", "41.00"), ("7067", "213", "12.00")]
    # the partly paid invoice: what remains of it
    assert values(pieces[0], "LigneDePiece/BlocLignePiece/InfoLignePiece/MtHT") == ["10.50"]
    debtor = pieces[0].find("LigneDePiece/Tiers")
    assert values(debtor, "InfoTiers/Nom") == ["Famille Martin"]
    assert values(debtor, "InfoTiers/RefTiers") == ["FAM-1"]
    assert [(c.tag, c.get("V")) for c in debtor.find("Adresse")] == [
        ("TypAdr", "1"), ("Adr2", "3 rue Paul Bert"), ("CP", "69200"), ("Ville", "Vénissieux"),
        ("CodRes", "0")]
    # the totals hold: lines → piece → bordereau
    amounts = [Decimal(v) for v in values(slip, "Piece/LigneDePiece/BlocLignePiece/"
                                                "InfoLignePiece/MtHT")]
    assert sum(amounts) == Decimal(block["MtBordHt"]) == handover.total


def test_each_invoice_is_handed_over_once_and_numbers_follow(venissieux, unpaid):
    regie, _ = unpaid
    with in_schema(venissieux):
        first = handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)
        with pytest.raises(FinanceError, match="Aucune facture .* à transmettre"):
            handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)
        second = handover_create(regie=regie, due_before=datetime.date(2026, 12, 1),
                                 actor=ADMIN, day=DAY)
        assert [i.invoice.number for i in second.items.all()] == ["F-LATER"]
        assert (first.number, second.number) == (1, 2)
        assert HandedOverInvoice.objects.count() == 4
        said = [e.summary for e in AuditEvent.objects.filter(code="unpaid.handed_over")
                .order_by("id")]
        assert said[0].startswith("Bordereau 1/2026 (Ville de Vénissieux – budget principal) : "
                                  "3 facture(s) impayée(s) de la régie R-001 échues avant le "
                                  "15/11/2026 transmises au comptable public, 87,50 € ;")
        assert len(said) == 2


def test_a_handed_over_invoice_is_refused_at_the_counter(venissieux, unpaid):
    regie, (a, _, _) = unpaid
    with in_schema(venissieux):
        handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)
        with pytest.raises(RegieError) as refused:
            payment_record(regie=regie, actor=TITULAIRE, amount="5.00", mode="cash",
                           invoices=[a])
        assert "transmise au comptable public" in str(refused.value)
        assert "payez auprès du Trésor public" in str(refused.value)
        with pytest.raises(RegieError, match="ne s'annule plus à la régie"):
            invoicing.invoice_cancel(invoice=a, actor=ADMIN, reason="erreur")
        with pytest.raises(RegieError, match="transmise au comptable public"):
            credit_apply(invoice=a, actor=TITULAIRE)
        a.refresh_from_db()
        assert (a.status, a.amount_paid) == ("due", Decimal("0.00"))


def test_invoice_lines_without_imputation_are_refused_naming_the_products(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        make_budget()
        ticket = founding.product_save(regie=regie, actor=ADMIN, code="sortie",
                                       name="Sortie", unit_price="8.00")
        payer = make_payer(regie)
        issue(regie, payer, (ticket, "1"), number="F-9", due_on=datetime.date(2026, 10, 1))
        with pytest.raises(FinanceError) as refused:
            handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)
        assert "n'ont pas d'imputation M57" in str(refused.value)
        assert "Sortie (factures F-9)" in str(refused.value)
        assert not UnpaidHandover.objects.exists()
        assert not HandedOverInvoice.objects.exists()


def test_a_regie_without_budget_identity_is_refused(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
        with pytest.raises(FinanceError, match="ne collecte pour aucun budget"):
            handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)


def test_the_command_writes_the_file_and_says_its_number(venissieux, unpaid, tmp_path):
    out = tmp_path / "pes.xml"
    printed = io.StringIO()
    call_command("pes_handover", venissieux.slug, "R-001", "--due-before", "2026-11-15",
                 "--out", str(out), stdout=printed)
    assert "Bordereau 1/" in printed.getvalue() and "3 titre(s)" in printed.getvalue()
    assert "87,50" in printed.getvalue()
    with in_schema(venissieux):
        assert out.read_bytes() == bytes(UnpaidHandover.objects.get().file)
    with pytest.raises(CommandError, match="date"):
        call_command("pes_handover", venissieux.slug, "R-001", "--due-before", "15/13/2026",
                     "--out", str(out))
    with pytest.raises(CommandError, match="Aucune facture"):
        call_command("pes_handover", venissieux.slug, "R-001", "--due-before", "2026-11-15",
                     "--out", str(tmp_path / "again.xml"))
    assert not (tmp_path / "again.xml").exists()


def test_only_the_titulaire_or_finance_staff_hand_over(venissieux, unpaid):
    regie, _ = unpaid
    with in_schema(venissieux):
        with pytest.raises(RegieError, match="Seul le régisseur titulaire"):
            handover_create(regie=regie, due_before=CUT, actor=MANDATAIRE, day=DAY)
        assert not UnpaidHandover.objects.exists()
        done = handover_create(regie=regie, due_before=CUT, actor=TITULAIRE, day=DAY)
        assert done.count == 3


def test_names_with_markup_control_characters_or_beyond_latin_1_stay_well_formed():
    debtor = pes.Debtor(reference="P1", kind="family", name='Cœur <&> "Zoé"\x00\x01',
                        address="1 rue\tdu Port", postal_code="69200", city="Vénissieux")
    header = pes.Header(post_code="069027", post_name="SGC", siret="21690259300005",
                        collectivity_code="047", budget_code="00", budget_name="Ville")
    data = pes.pes_aller(header=header, year=2026, bordereau=7, day=DAY, file_name="f.xml",
                         objet="Impayés", titres=[pes.Titre(
                             piece=1, invoice_number="F-1", label="Facture F-1", debtor=debtor,
                             lines=[pes.Line("Repas", "7067", "281", Decimal("4.10"))])])
    root = ET.fromstring(data)  # noqa: S314 (the file we wrote)
    assert values(root, "PES_RecetteAller/Bordereau/Piece/LigneDePiece/Tiers/InfoTiers/Nom") == [
        'Cœur <&> "Zoé"']
    assert values(root, ".//Adr2") == ["1 rue du Port"]


def test_a_contested_invoice_or_one_a_debit_is_paying_is_not_handed_over(venissieux, unpaid):
    regie, (_a, b, c) = unpaid
    with in_schema(venissieux):
        invoice_contest(invoice=c, actor=TITULAIRE, reason="La famille conteste les heures")
        preview = handover_preview(regie=regie, due_before=CUT)
        assert [i.number for i in preview.invoices] == ["F-2", "F-1"]
        with pytest.raises(FinanceError, match="F-3 est contestée par le payeur"):
            handover_create(regie=regie, due_before=DAY, actor=ADMIN, day=DAY,
                            invoices=["F-1", "F-3"])
        invoice_contest_lift(invoice=c, actor=TITULAIRE, reason="Heures vérifiées")

        # A debit sent to the bank holds F-2 (what the direct debit answers on the
        # régies' signal): it waits for the bank, by rule and by name.
        def debit_holds_f2(sender, invoice_ids, **kwargs):
            return {b.pk: "prélèvement SEPA en cours, le 15/12/2026"} if b.pk in invoice_ids \
                else {}

        payments_held.connect(debit_holds_f2, dispatch_uid="test.debit_holds_f2")
        try:
            with pytest.raises(FinanceError, match="F-2 ne peut pas être transmise : "
                                                   "prélèvement SEPA en cours, le 15/12/2026"):
                handover_create(regie=regie, due_before=DAY, actor=ADMIN, day=DAY,
                                invoices=["F-2"])
            done = handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)
        finally:
            payments_held.disconnect(dispatch_uid="test.debit_holds_f2")
        assert sorted(i.invoice.number for i in done.items.all()) == ["F-1", "F-3"]


def test_invoices_named_that_cannot_be_handed_over_are_refused_by_name_and_nothing_is_made(
        venissieux, unpaid):
    """Paid, cancelled, already handed over, not due yet, unknown: each named invoice is
    refused in French by its number, and a refused hand-over leaves nothing behind."""
    regie, (a, _, c) = unpaid
    with in_schema(venissieux):
        invoicing.invoice_cancel(invoice=c, actor=ADMIN, reason="Inscription annulée")
        handover_create(regie=regie, due_before=DAY, actor=ADMIN, day=DAY, invoices=["F-2"])
        made = (UnpaidHandover.objects.count(), HandedOverInvoice.objects.count(),
                AuditEvent.objects.filter(code="unpaid.handed_over").count())
        for named, said in (
                (["F-1", "F-PAID"], "La facture F-PAID ne peut pas être transmise : elle est "
                                    "payée."),
                (["F-1", "F-3"], "La facture F-3 ne peut pas être transmise : elle est "
                                 "annulée."),
                (["F-1", "F-2"], "La facture F-2 est déjà transmise au comptable public "
                                 "(bordereau"),
                (["F-1", "F-LATER"], "La facture F-LATER ne peut pas être transmise : elle est "
                                     "à payer avant le 20/11/2026, pas encore échue."),
                (["F-1", "F-NOPE"], "n'a pas de facture F-NOPE"),
                (["F-1", "F-1"], "La facture F-1 est nommée deux fois.")):
            with pytest.raises(FinanceError) as refused:
                handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY,
                                invoices=named)
            assert said.lower() in str(refused.value).lower(), str(refused.value)
            assert refused.value.field == "invoices"
        assert (UnpaidHandover.objects.count(), HandedOverInvoice.objects.count(),
                AuditEvent.objects.filter(code="unpaid.handed_over").count()) == made
        a.refresh_from_db()
        assert handed_over_of(a) is None


@pytest.mark.parametrize(("field", "said"), [
    ("collectivity_code", "n'a pas de code collectivité (CodCol)"),
    ("budget_code", "n'a pas de code budget (CodBud)"),
    ("post_code", "n'a pas de code de poste comptable (IdPost)"),
])
def test_a_budget_without_its_codes_is_refused_by_field(venissieux, unpaid, field, said):
    """A budget row whose code went blank (kept before the field was required, or edited in
    the database; the SIRET's digits are the database's own check) is refused by name: no
    file with an empty header is written."""
    regie, _ = unpaid
    with in_schema(venissieux):
        Budget.objects.update(**{field: ""})
        with pytest.raises(FinanceError) as refused:
            handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)
        assert said in str(refused.value)
        assert "Ville de Vénissieux – budget principal" in str(refused.value)
        assert refused.value.field == field
        assert not UnpaidHandover.objects.exists()
        assert not HandedOverInvoice.objects.exists()


def test_unpaid_handover_prints_the_number_and_how_to_export_its_file(venissieux, unpaid,
                                                                       tmp_path):
    printed = io.StringIO()
    call_command("unpaid_handover", venissieux.slug, "R-001", "--due-before", "2026-11-15",
                 "--min-amount", "20", stdout=printed)
    with in_schema(venissieux):
        done = UnpaidHandover.objects.get()
    said = printed.getvalue()
    assert said.startswith("Bordereau 1/") and "2 titre(s)" in said and "77,00" in said
    assert f"opsn pes_export {venissieux.insee_code} --handover {done.pk}" in said
    out = tmp_path / "pes.xml"
    call_command("pes_export", venissieux.slug, "--handover", str(done.pk), "--out", str(out),
                 stdout=io.StringIO())
    assert out.read_bytes() == bytes(done.file)
