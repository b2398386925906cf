"""The public accountant's acknowledgement (PES_ACK) of a hand-over: titres accepted or
rejected with the reason, a rejected invoice payable at the régie again, an accepted
hand-over no longer cancellable, the same file twice changing nothing, and bad files
refused in French with nothing changed. Cancelling a hand-over before acceptance."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from opsn.audit.models import AuditEvent
from opsn.finance.acks import ack_import, handover_cancel
from opsn.finance.errors import FinanceError
from opsn.finance.handover import handover_create, handover_preview
from opsn.finance.models import HandedOverInvoice, HandoverState, PesAck, ReleasedTitre
from opsn.regies.errors import RegieError
from opsn.regies.services.payments import payment_record
from tests.commune.test_finance_handover import CUT, DAY, unpaid  # noqa: F401 (fixture)
from tests.helpers.communes import in_schema
from tests.helpers.regies import ADMIN, TITULAIRE


def ack_xml(handover, pieces=None, *, whole=None, file_name=None, bordereau=None,
            codes=("047", "00")) -> bytes:
    """An acknowledgement as docs/decisions/0018-pes-v2.md describes what we read:
    ``pieces`` {IdPce: (EtatAck, reason)}; ``whole`` the bordereau's EtatAck."""
    details = "".join(
        f'<DetailPiece><IdPce V="{p}"/><EtatAck V="{state}"/>'
        + (f'<NumAnoAck V="R12"/><LibelleAnoAck V="{reason}"/>' if reason else "")
        + "</DetailPiece>" for p, (state, reason) in (pieces or {}).items())
    number = bordereau or handover.number
    return (
        "<?xml version='1.0' encoding='ISO-8859-1'?>"
        '<n:PES_ACK xmlns:n="http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller">'
        '<Enveloppe><Parametres><Version V="2"/><TypFic V="PESACK"/>'
        '<NomFic V="ACK_1.xml"/></Parametres></Enveloppe>'
        f'<EnTetePES><IdColl V="21690259300005"/><CodCol V="{codes[0]}"/>'
        f'<CodBud V="{codes[1]}"/></EnTetePES>'
        f'<ACQUIT><ElementACQUIT><NomFic V="{file_name or handover.file_name}"/>'
        f'<Exer V="{handover.year}"/><IdBord V="{number}"/>'
        + (f'<EtatAck V="{whole}"/>' if whole else "")
        + details + "</ElementACQUIT></ACQUIT></n:PES_ACK>").encode("iso-8859-1")


@pytest.fixture
def handed(venissieux, unpaid):  # noqa: F811
    regie, invoices = unpaid
    with in_schema(venissieux):
        handover = handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)
        pieces = {i.invoice.number: i.piece for i in handover.items.select_related("invoice")}
    return regie, invoices, handover, pieces


def test_an_ack_accepts_one_titre_and_rejects_another_whose_invoice_is_payable_again(
        venissieux, handed):
    regie, (a, _, c), handover, pieces = handed
    data = ack_xml(handover, {pieces["F-1"]: ("1", ""),
                              pieces["F-3"]: ("2", "Adresse du débiteur incomplète")})
    with in_schema(venissieux):
        result = ack_import(handover=handover, data=data, file_name="ACK_1.xml", actor=ADMIN)
        assert result.changed and result.accepted == [pieces["F-1"]]
        assert result.rejected == [(pieces["F-3"], "F-3",
                                    "R12 – Adresse du débiteur incomplète")]
        handover.refresh_from_db()
        assert handover.state == HandoverState.SENT  # F-2 still awaits its answer
        released = ReleasedTitre.objects.get()
        assert (released.invoice, released.why, released.amount) == (c, "rejected",
                                                                     Decimal("24.00"))
        # the rejected invoice is the régie's again: paid at the counter
        payment_record(regie=regie, actor=TITULAIRE, amount="24.00", mode="cash",
                       invoices=[c])
        c.refresh_from_db()
        assert c.status == "paid"
        # the accepted one is still the accountant's
        with pytest.raises(RegieError, match="transmise au comptable public"):
            payment_record(regie=regie, actor=TITULAIRE, amount="5.00", mode="cash",
                           invoices=[a])
        # the same file again changes nothing
        again = ack_import(handover=handover, data=data, file_name="ACK_1.xml", actor=ADMIN)
        assert not again.changed and PesAck.objects.count() == 1
        # the last titre accepted: accepted in part
        ack_import(handover=handover, data=ack_xml(handover, {pieces["F-2"]: ("1", "")}),
                   file_name="ACK_2.xml", actor=ADMIN)
        handover.refresh_from_db()
        assert handover.state == HandoverState.PARTLY
        said = AuditEvent.objects.filter(code="pes.ack_imported").order_by("id").first()
        assert "1 titre(s) accepté(s), 1 rejeté(s)" in said.summary
        assert "facture F-3) : R12 – Adresse du débiteur incomplète" in said.summary
        # an accepted hand-over can no longer be cancelled
        with pytest.raises(FinanceError, match="ne peut plus être annulé"):
            handover_cancel(handover=handover, actor=ADMIN, reason="erreur")


def test_a_rejected_invoice_may_be_handed_over_again(venissieux, handed):
    regie, _, handover, _ = handed
    with in_schema(venissieux):
        ack_import(handover=handover, data=ack_xml(handover, whole="2"), file_name="a.xml",
                   actor=ADMIN)
        handover.refresh_from_db()
        assert handover.state == HandoverState.REJECTED
        assert not HandedOverInvoice.objects.exists()
        assert handover_preview(regie=regie, due_before=CUT).count == 3
        second = handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)
        assert (second.number, second.count) == (2, 3)


def test_a_hand_over_is_cancelled_before_acceptance_and_its_invoices_come_back(
        venissieux, handed):
    regie, (a, _, _), handover, _ = handed
    with in_schema(venissieux):
        with pytest.raises(FinanceError, match="motif"):
            handover_cancel(handover=handover, actor=ADMIN, reason="  ")
        handover_cancel(handover=handover, actor=ADMIN, reason="Mauvaise date d'échéance")
        handover.refresh_from_db()
        assert handover.state == HandoverState.CANCELLED
        assert ReleasedTitre.objects.filter(why="cancelled").count() == 3
        payment_record(regie=regie, actor=TITULAIRE, amount="5.00", mode="cash",
                       invoices=[a])
        with pytest.raises(FinanceError, match="déjà annulé"):
            handover_cancel(handover=handover, actor=ADMIN, reason="encore")
        with pytest.raises(FinanceError, match="annulé"):
            ack_import(handover=handover, data=ack_xml(handover, whole="1"),
                       file_name="a.xml", actor=ADMIN)
        assert AuditEvent.objects.filter(code="unpaid.handover_cancelled").count() == 1


@pytest.mark.parametrize(("data", "said"), [
    (b"", "vide"),
    (b"not xml at all", "mal formé"),
    (b"<PES_Aller/>", "sa racine est « PES_Aller »"),
    (b"<PES_ACK><ACQUIT>\x00</ACQUIT></PES_ACK>", "Ligne 1"),
    (b"<PES_ACK><EnTetePES/></PES_ACK>", "aucun élément ACQUIT"),
    (b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><PES_ACK>&e;</PES_ACK>",
     "ACQUIT"),
    (b"<PES_ACK>" + b" " * (21 * 1024 * 1024) + b"</PES_ACK>", "Mo"),
])
def test_bad_files_are_refused_in_french_and_change_nothing(venissieux, handed, data, said):
    _, _, handover, _ = handed
    with in_schema(venissieux):
        with pytest.raises(FinanceError, match=said):
            ack_import(handover=handover, data=data, file_name="x.xml", actor=ADMIN)
        assert not PesAck.objects.exists() and HandedOverInvoice.objects.count() == 3


def test_an_ack_of_another_file_or_an_unknown_titre_changes_nothing(venissieux, handed):
    _, _, handover, _ = handed
    with in_schema(venissieux):
        for data, said in [
                (ack_xml(handover, whole="1", file_name="PES_04700_2026_00009.xml"),
                 "acquitte le fichier PES_04700_2026_00009.xml"),
                (ack_xml(handover, whole="1", bordereau=7), "porte sur le bordereau 7/2026"),
                (ack_xml(handover, whole="1", codes=("047", "01")), "un autre budget"),
                (ack_xml(handover, {99: ("1", "")}), "titre.s. que le Bordereau 1/2026 n'a "
                                                     "pas : 99"),
                (ack_xml(handover, {1: ("3", "")}), "ni 1 .accepté. ni 2")]:
            with pytest.raises(FinanceError, match=said):
                ack_import(handover=handover, data=data, file_name="x.xml", actor=ADMIN)
        # a titre accepted, then rejected by a later file: refused
        ack_import(handover=handover, data=ack_xml(handover, {1: ("1", "")}),
                   file_name="a.xml", actor=ADMIN)
        with pytest.raises(FinanceError, match="qu'un accusé précédent avait accepté"):
            ack_import(handover=handover, data=ack_xml(handover, {1: ("2", "non")}),
                       file_name="b.xml", actor=ADMIN)
        assert PesAck.objects.count() == 1 and not ReleasedTitre.objects.exists()


def test_the_command_imports_an_ack_and_says_what_it_did(venissieux, handed, tmp_path,
                                                         capsys):
    _, _, handover, pieces = handed
    path = tmp_path / "ACK.xml"
    path.write_bytes(ack_xml(handover, {pieces["F-1"]: ("2", "Débiteur décédé")},
                             whole=None))
    call_command("pes_ack", venissieux.schema_name, str(path))
    out = capsys.readouterr().out
    assert "Bordereau 1/2026" in out and "0 titre(s) accepté(s), 1 rejeté(s)" in out
    assert "facture F-1 rejetée : R12 – Débiteur décédé" in out
    call_command("pes_ack", venissieux.schema_name, str(path))
    assert "rien n'est changé" in capsys.readouterr().out
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<html/>")
    with pytest.raises(CommandError, match="PES_ACK"):
        call_command("pes_ack", venissieux.schema_name, str(bad))
    with pytest.raises(CommandError, match="n'existe pas"):
        call_command("pes_ack", venissieux.schema_name, str(tmp_path / "none.xml"))


def test_pes_check_accepts_our_file_and_refuses_an_altered_one(venissieux, handed, tmp_path,
                                                               capsys):
    _, _, handover, _ = handed
    good = tmp_path / "good.xml"
    good.write_bytes(bytes(handover.file))
    call_command("pes_check", str(good))
    assert "fichier PES correct" in capsys.readouterr().out
    altered = bytes(handover.file).replace(b'<MtHT V="24.00" />', b'<MtHT V="25.00" />', 1)
    debtorless = bytes(handover.file).replace(b'<Nom V="Famille Diallo" />', b"", 1)
    # the whole debtor block of the last titre taken out, and a header code emptied
    text = bytes(handover.file)
    start = text.rindex(b"<Tiers>")
    tierless = text[:start] + text[text.index(b"</Tiers>", start) + len(b"</Tiers>"):]
    codeless = text.replace(b'<CodCol V="047" />', b'<CodCol V="" />', 1)
    assert tierless != text and codeless != text
    for name, data, said in (
            ("amount.xml", altered, "Le bordereau annonce 87.50 € (MtBordHt), ses lignes font "
                                    "88.50 €."),
            ("debtor.xml", debtorless, "Le titre 3 a une ligne sans débiteur (Tiers)."),
            ("tiers.xml", tierless, "Le titre 3 a une ligne sans débiteur (Tiers)."),
            ("codes.xml", codeless, "L'élément EnTetePES/CodCol est vide.")):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CommandError, match="problème") as refused:
            call_command("pes_check", str(path))
        assert refused.value.returncode == 1
        assert said in capsys.readouterr().err, name
