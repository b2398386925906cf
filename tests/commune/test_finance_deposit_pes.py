"""`opsn pes_export`: a hand-over's PES file as written, and a deposit's titre de
régularisation as a PES V2 « PES_Aller » file (one titre, one line per imputation, the
deposit's amounts) that `pes_check` accepts, from the command and the deposit's page;
refused in French when there is nothing a titre may carry."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from lxml import etree

from opsn.agents.services import service_credential_issue
from opsn.finance.deposit_pes import deposit_pes
from opsn.finance.errors import FinanceError
from opsn.finance.handover import handover_create
from opsn.finance.pes_check import check, schema_problems
from opsn.finance.regularisation import deposit_regularisation
from opsn.regies.services import cashdesk, founding
from opsn.regies.services.payments import payment_record
from tests.commune.test_finance_handover import CUT, DAY, issue, unpaid  # noqa: F401
from tests.commune.test_finance_regularisation import _deposit_with_every_kind_of_payment
from tests.helpers.communes import host_of, in_schema
from tests.helpers.regies import (
    ADMIN,
    OPENED,
    TITULAIRE,
    make_agents,
    make_budget,
    make_payer,
    make_regie,
)
from tests.interfaces.test_regie_pages import client_of


def _imputed_deposit():
    """Two imputations paid in full: a meal invoice (7067/281) and tickets (7062/311)."""
    regie = make_regie()
    make_budget()
    founding.regie_imputation_set(regie=regie, actor=ADMIN, nature="7067", fonction="281")
    meal = founding.product_save(regie=regie, actor=ADMIN, code="repas", name="Repas",
                                 unit_price="4.10")
    ticket = founding.product_save(regie=regie, actor=ADMIN, code="expo", name="Exposition",
                                   unit_price="5.00", nature="7062", fonction="311")
    martin = make_payer(regie, "Famille Martin")
    bill = issue(regie, martin, (meal, "10"), number="F-1", due_on=datetime.date(2026, 10, 31))
    payment_record(regie=regie, actor=TITULAIRE, amount="41.00", mode="cash", payer=martin,
                   invoices=[bill])
    payment_record(regie=regie, actor=TITULAIRE, amount="15.00", mode="cash",
                   payer_name="Visiteur", sales=[(ticket, 3)])
    return regie, cashdesk.deposit_make(regie=regie, actor=TITULAIRE)


def _lines(data: bytes):
    root = etree.fromstring(data)
    return [(line.find("BlocLignePiece/InfoLignePiece/Nature").get("V"),
             line.find("BlocLignePiece/InfoLignePiece/Fonction").get("V"),
             Decimal(line.find("BlocLignePiece/InfoLignePiece/MtHT").get("V")))
            for line in root.iter("LigneDePiece")], root


def test_a_deposit_file_carries_its_regularisation_and_passes_the_check(venissieux, tmp_path,
                                                                        capsys):
    with in_schema(venissieux):
        _, deposit = _imputed_deposit()
        regularisation = deposit_regularisation(deposit)
    out = tmp_path / "versement.xml"
    call_command("pes_export", venissieux.schema_name, "--deposit", str(deposit.pk),
                 "--out", str(out))
    assert "titre de régularisation" in capsys.readouterr().out
    data = out.read_bytes()
    lines, root = _lines(data)
    assert lines == [(x.nature, x.fonction, x.amount) for x in regularisation.lines] == [
        ("7062", "311", Decimal("15.00")), ("7067", "281", Decimal("41.00"))]
    assert len(root.findall("PES_RecetteAller/Bordereau/Piece")) == 1
    block = root.find("PES_RecetteAller/Bordereau/BlocBordereau")
    assert Decimal(block.find("MtBordHt").get("V")) == deposit.total == Decimal("56.00")
    assert block.find("NbrPce").get("V") == "1"
    assert check(data) == []
    call_command("pes_check", str(out))
    assert "fichier PES correct" in capsys.readouterr().out
    with in_schema(venissieux):
        assert deposit_pes(deposit)[1] == data  # the deposit is fixed: the same bytes
    by_slip = tmp_path / "par-numero.xml"
    call_command("pes_export", venissieux.schema_name, "--deposit",
                 f"{deposit.regie.number}/{deposit.slip}", "--out", str(by_slip))
    assert by_slip.read_bytes() == data


def test_a_handover_file_is_exported_as_written(venissieux, unpaid, tmp_path):  # noqa: F811
    regie, _ = unpaid
    with in_schema(venissieux):
        handover = handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)
    out = tmp_path / "h.xml"
    call_command("pes_export", venissieux.schema_name, "--handover", str(handover.pk),
                 "--out", str(out))
    assert out.read_bytes() == bytes(handover.file)


def test_refusals_are_in_french(venissieux, tmp_path):
    with in_schema(venissieux):
        _, deposit = _deposit_with_every_kind_of_payment()  # 39.50 of credit, not imputed
        with pytest.raises(FinanceError, match="39,50 .* non affectés"):
            deposit_pes(deposit)
    out = str(tmp_path / "x.xml")
    for args, said, code in (
            ([], "soit --handover N", 2),
            (["--handover", "1", "--deposit", "1"], "pas les deux ni aucun", 2),
            (["--deposit", "abc"], "n'est pas un numéro de versement", 2),
            (["--deposit", "999999"], "Aucun versement n° 999999", 3),
            (["--handover", "999999"], "Aucun bordereau de transmission n° 999999", 3),
            (["--deposit", "R-001/2026-3"], "n'est pas un numéro de versement", 2),
            (["--deposit", "R-404/V2026-0001"], "Aucun versement V2026-0001 de la régie", 3),
            (["--deposit", str(deposit.pk)], "non affectés", None)):
        with pytest.raises(CommandError, match=said) as refused:
            call_command("pes_export", venissieux.schema_name, *args, "--out", out)
        if code:
            assert refused.value.returncode == code
    assert not (tmp_path / "x.xml").exists()


def test_the_deposit_page_offers_the_pes_file(venissieux):
    with in_schema(venissieux):
        make_agents()
        regie, deposit = _imputed_deposit()
    client = client_of(venissieux, TITULAIRE.account)
    url = f"/espace/regies/{regie.number}/versements/{deposit.slip}/"
    assert "pes.xml" in client.get(url).content.decode()
    got = client.get(url + "pes.xml")
    assert got.status_code == 200 and got["Content-Type"].startswith("application/xml")
    assert check(b"".join(got.streaming_content) if got.streaming else got.content) == []
    assert client.get(f"/espace/regies/{regie.number}/versements/V1999-9/pes.xml"
                      ).status_code == 404


def test_the_deposit_page_says_why_there_is_no_pes_file(venissieux):
    with in_schema(venissieux):
        make_agents()
        regie, refused = _deposit_with_every_kind_of_payment()
    client = client_of(venissieux, TITULAIRE.account)
    back = client.get(f"/espace/regies/{regie.number}/versements/{refused.slip}/pes.xml",
                      follow=True)
    text = " ".join(back.content.decode().split()).replace("\u202f", " ").replace("\xa0", " ")
    assert back.status_code == 200 and "39,50 € non affectés" in text


def test_the_schema_accepts_our_files_and_names_an_unknown_or_missing_element(
        venissieux, unpaid, tmp_path, capsys):  # noqa: F811
    regie, _ = unpaid
    with in_schema(venissieux):
        handover = handover_create(regie=regie, due_before=CUT, actor=ADMIN, day=DAY)
    ours = bytes(handover.file)
    tree = etree.ElementTree(etree.fromstring(ours))
    assert schema_problems(tree) == [] and check(ours) == []
    unknown = ours.replace(b'<Majo V="0" />', b'<Majo V="0" /><Remise V="1" />', 1)
    missing = ours.replace(b'<NatPce V="01" />', b"", 1)
    valueless = ours.replace(b'<DteStr V="', b'<DteStr W="', 1)
    for name, data, said in (
            ("unknown.xml", unknown, "Schéma : L'élément Remise n'est pas attendu ici"),
            ("missing.xml", missing, "Schéma : L'élément ObjPce n'est pas attendu ici (inconnu "
                                     "du schéma ou mal placé) ; attendu : NatPce."),
            ("valueless.xml", valueless, "L'élément DteStr n'a pas sa valeur (attribut V)")):
        problems = check(data)
        assert any(said in p for p in problems), (name, problems)
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CommandError, match="problème"):
            call_command("pes_check", str(path))
        assert said in capsys.readouterr().err
    # a mandatory element missing at the end of its parent
    cut = ours.replace(b'<CodRes V="0" />', b"", 1)
    assert any("L'élément Adresse est incomplet : il manque l'élément obligatoire CodRes"
               in p for p in check(cut)), check(cut)


def test_the_commune_api_gives_the_same_deposit_file(venissieux):
    with in_schema(venissieux):
        regie, deposit = _imputed_deposit()
        name, data = deposit_pes(deposit)
        credential, secret = service_credential_issue(name="gestion-financiere", actor=ADMIN)
        founding.assignment_grant(regie=regie, actor=ADMIN, account=credential.account,
                                  role="mandataire", starts_on=OPENED)
    client = Client(HTTP_HOST=host_of(venissieux), HTTP_AUTHORIZATION=f"Bearer {secret}")
    got = client.get(f"/api/v1/regies/{regie.number}/deposits/{deposit.year}/"
                     f"{deposit.number}/pes.xml")
    assert got.status_code == 200, got.content
    assert got.content == data and name in got["Content-Disposition"]
    assert check(got.content) == []
    unknown = client.get(f"/api/v1/regies/{regie.number}/deposits/{deposit.year}/999/pes.xml")
    assert unknown.status_code == 404
    assert unknown.json()["message"] == (f"La régie {regie.number} n'a pas de versement "
                                         f"V{deposit.year}-0999.")
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/regies/{number}/deposits/{year}/{slip}/pes.xml" in spec["paths"]
