"""Right of access: a citizen downloads, as JSON, everything the platform holds about
them across communes, and nothing of anyone else."""

import json

from django.contrib.auth import get_user_model
from django.test import Client

from opsn.agents.models import Role
from opsn.audit.models import AuditEvent
from opsn.citizens.models import LinkMethod, PayerLink
from opsn.citizens.personal_data_document import payer_pdf
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
from tests.helpers.documents import is_pdf_ua, pdf_text
from tests.helpers.identity import agent, make_account, sign_in
from tests.helpers.regies import MANDATAIRE, make_invoice, make_payer, make_regie

CITIZEN = "camille.durand@citoyen.test"


def test_a_citizen_downloads_their_data_from_two_communes_and_nothing_else(venissieux,
                                                                           vaulx):
    with in_schema(venissieux):
        canteen = make_regie()
        mine = make_payer(canteen, "Famille Durand", email="camille@exemple.fr",
                          phone="06 12 34 56 78")
        invoice = make_invoice(canteen, mine, "45.00", number="CANT-2026-11")
        payment_record(regie=canteen, actor=MANDATAIRE, amount="45.00", mode="cash",
                       invoices=[invoice])
        other = make_payer(canteen, "Famille Voisin", email="voisin@exemple.fr")
        make_invoice(canteen, other, "12.00", number="CANT-2026-99")
    with in_schema(vaulx):
        pool = make_regie("P-01", "Piscine municipale")
        swimmer = make_payer(pool, "Camille Durand")
        make_invoice(pool, swimmer, "24.00", number="PISC-2026-7")
    make_account(CITIZEN)
    client = sign_in(venissieux.primary_domain, CITIZEN)
    # The platform's user (signed in through OpenID Connect) is named by its subject.
    subject = get_user_model().objects.get(pk=client.session["_auth_user_id"]).get_username()
    for commune, payer in ((venissieux, mine), (vaulx, swimmer)):
        PayerLink.objects.create(subject=subject, commune=commune, payer_id=payer.pk,
                                 payer_name=payer.name, method=LinkMethod.CODE)
    PayerLink.objects.create(subject="quelqu-un-d-autre", commune=venissieux,
                             payer_id=other.pk, payer_name=other.name, method=LinkMethod.CODE)

    response = client.get("/mon-espace/mes-donnees.json")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="mes-donnees.json"'
    data = json.loads(response.content)
    assert data["account"]["email"] == CITIZEN
    assert [link["payer_name"] for link in data["links"]] == ["Camille Durand",
                                                              "Famille Durand"]
    by_commune = {c["insee_code"]: c for c in data["communes"]}
    assert set(by_commune) == {venissieux.insee_code, vaulx.insee_code}
    [record] = by_commune[venissieux.insee_code]["payer_records"]
    assert record["payer"]["email"] == "camille@exemple.fr"
    assert record["payer"]["phone"] == "06 12 34 56 78"
    assert [i["number"] for i in record["invoices"]] == ["CANT-2026-11"]
    assert record["invoices"][0]["lines"][0]["amount"] == "45.00"
    assert [(p["amount"], p["mode"]) for p in record["payments"]] == [("45.00", "cash")]
    [pool_record] = by_commune[vaulx.insee_code]["payer_records"]
    assert [i["number"] for i in pool_record["invoices"]] == ["PISC-2026-7"]
    text = response.content.decode()
    assert "Voisin" not in text and "voisin@exemple.fr" not in text
    assert "CANT-2026-99" not in text and "quelqu-un-d-autre" not in text


def test_the_export_is_for_the_person_signed_in_only(db):
    response = Client(HTTP_HOST="localhost").get("/mon-espace/mes-donnees.json")
    assert response.status_code == 302 and "/compte/connexion/" in response["Location"]


def test_an_agent_exports_one_payers_data_and_the_audit_log_says_so(venissieux):
    with in_schema(venissieux):
        canteen = make_regie()
        payer = make_payer(canteen, "Famille Durand", email="camille@exemple.fr")
        make_invoice(canteen, payer, "45.00", number="CANT-2026-11")
        other = make_payer(canteen, "Famille Voisin")
        make_invoice(canteen, other, "12.00", number="CANT-2026-99")
    regisseur = agent(venissieux, "regisseur@venissieux.fr", Role.REGISSEUR)
    url = f"/espace/regies/{canteen.number}/payeurs/{payer.pk}/donnees.json"
    assert regisseur.get(url).status_code == 405  # an export is asked for, not fetched
    response = regisseur.post(url)
    assert response.status_code == 200
    assert f"donnees-payeur-{payer.link_code}.json" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["payer"]["email"] == "camille@exemple.fr"
    assert data["produced_by"] == "regisseur@venissieux.fr"
    assert [i["number"] for i in data["invoices"]] == ["CANT-2026-11"]
    assert "Voisin" not in response.content.decode()
    with in_schema(venissieux):
        event = AuditEvent.objects.get(code="payer.data_exported")
    assert event.actor == "regisseur@venissieux.fr"
    assert event.summary == (f"Export des données personnelles du payeur Famille Durand "
                             f"({payer.link_code}), régie {canteen.number}")
    page = regisseur.get(f"/espace/regies/{canteen.number}/payeurs/{payer.pk}/")
    assert "Exporter ses données (JSON)" in page.content.decode()

    stranger = Client(HTTP_HOST=venissieux.primary_domain).post(url)
    assert stranger.status_code == 302  # to sign in


def _two_communes_and_a_neighbour(venissieux, vaulx):
    """Camille's records in two communes, and a neighbour's in the first."""
    with in_schema(venissieux):
        canteen = make_regie()
        mine = make_payer(canteen, "Famille Durand", email="camille@exemple.fr",
                          phone="06 12 34 56 78")
        invoice = make_invoice(canteen, mine, "45.00", number="CANT-2026-11")
        payment_record(regie=canteen, actor=MANDATAIRE, amount="45.00", mode="cash",
                       invoices=[invoice])
        other = make_payer(canteen, "Famille Voisin", email="voisin@exemple.fr")
        make_invoice(canteen, other, "12.00", number="CANT-2026-99")
    with in_schema(vaulx):
        pool = make_regie("P-01", "Piscine municipale")
        swimmer = make_payer(pool, "Camille Durand")
        make_invoice(pool, swimmer, "1234.50", number="PISC-2026-7")
    return mine, other, swimmer


def test_a_citizen_downloads_a_readable_pdf_of_their_data_from_two_communes(venissieux,
                                                                            vaulx):
    mine, other, swimmer = _two_communes_and_a_neighbour(venissieux, vaulx)
    make_account(CITIZEN)
    client = sign_in(venissieux.primary_domain, CITIZEN)
    subject = get_user_model().objects.get(pk=client.session["_auth_user_id"]).get_username()
    for commune, payer in ((venissieux, mine), (vaulx, swimmer)):
        PayerLink.objects.create(subject=subject, commune=commune, payer_id=payer.pk,
                                 payer_name=payer.name, method=LinkMethod.CODE)
    PayerLink.objects.create(subject="quelqu-un-d-autre", commune=venissieux,
                             payer_id=other.pk, payer_name=other.name, method=LinkMethod.CODE)

    links = client.get("/mon-espace/rattachements/").content.decode()
    assert 'href="/mon-espace/mes-donnees.pdf"' in links
    response = client.get("/mon-espace/mes-donnees.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="mes-donnees.pdf"' in response["Content-Disposition"]
    pdf = response.content
    assert is_pdf_ua(pdf)
    text = " ".join(pdf_text(pdf).split())
    assert "Mes données personnelles" in text
    assert CITIZEN in text
    # Vénissieux: the family's record, its contact details, invoice and cash payment.
    assert f"{venissieux.name} (code INSEE {venissieux.insee_code})" in text
    assert "Famille Durand" in text and "camille@exemple.fr" in text
    assert "06 12 34 56 78" in text
    assert "CANT-2026-11" in text and "45,00 €" in text and "espèces" in text
    assert mine.link_code in text
    # Vaulx-en-Velin: the swimming pool's invoice, its amount as the pages write it.
    assert f"{vaulx.name} (code INSEE {vaulx.insee_code})" in text
    assert "Piscine municipale" in text and "PISC-2026-7" in text and "1 234,50 €" in text
    # Nothing of anyone else.
    assert "Voisin" not in text and "voisin@exemple.fr" not in text
    assert "CANT-2026-99" not in text and "12,00 €" not in text
    assert other.link_code not in text and "quelqu-un-d-autre" not in text


def test_the_pdf_is_for_the_person_signed_in_only(db):
    response = Client(HTTP_HOST="localhost").get("/mon-espace/mes-donnees.pdf")
    assert response.status_code == 302 and "/compte/connexion/" in response["Location"]


def test_an_agent_hands_a_payer_a_pdf_of_their_data(venissieux):
    with in_schema(venissieux):
        canteen = make_regie()
        payer = make_payer(canteen, "Famille Durand", email="camille@exemple.fr")
        make_invoice(canteen, payer, "45.00", number="CANT-2026-11")
        other = make_payer(canteen, "Famille Voisin")
        make_invoice(canteen, other, "12.00", number="CANT-2026-99")
    regisseur = agent(venissieux, "regisseur@venissieux.fr", Role.REGISSEUR)
    page = regisseur.get(f"/espace/regies/{canteen.number}/payeurs/{payer.pk}/")
    assert "Exporter ses données (PDF)" in page.content.decode()
    url = f"/espace/regies/{canteen.number}/payeurs/{payer.pk}/donnees.pdf"
    assert regisseur.get(url).status_code == 405
    response = regisseur.post(url)
    assert response.status_code == 200
    assert f"donnees-payeur-{payer.link_code}.pdf" in response["Content-Disposition"]
    pdf = response.content
    assert is_pdf_ua(pdf)
    text = " ".join(pdf_text(pdf).split())
    assert "Données personnelles du dossier « Famille Durand »" in text
    assert "regisseur@venissieux.fr" in text and venissieux.name in text
    assert "camille@exemple.fr" in text and "CANT-2026-11" in text and "45,00 €" in text
    assert "Voisin" not in text and "CANT-2026-99" not in text
    with in_schema(venissieux):
        assert AuditEvent.objects.filter(code="payer.data_exported").count() == 1
    other_url = f"/espace/regies/{canteen.number}/payeurs/999999/donnees.pdf"
    assert regisseur.post(other_url).status_code == 404


def test_what_people_typed_is_printed_as_text_never_read_as_markup():
    """A name or a label is a string of the document's data: Typst shows it as typed."""
    hostile = 'Famille #set page(width: 1cm) *gras* $x$ <x> @x \\ "fin'
    record = {
        "regie": {"number": "R-001", "name": "Cantine #strong[!]"},
        "payer": {"name": hostile, "kind": "family", "address_line": "", "postal_code": "",
                  "city": "", "email": "", "phone": "", "external_ref": "", "link_code": "X",
                  "created_at": "2026-01-02T10:00:00+01:00"},
        "invoices": [{"number": "F-1", "label": "Repas ]) #panic()", "issued_on": "2026-11-02",
                      "due_on": "2026-12-02", "total": "45.00", "amount_paid": "0.00",
                      "status": "due", "cancelled_at": None, "lines": []}],
        "payments": [], "online_payments": [], "direct_debit_mandates": []}
    document = {"produced_at": "2026-12-06T08:00:00+01:00", "produced_by": "agent@x.fr",
                **record}
    pdf = payer_pdf(document, commune="Vénissieux")
    assert is_pdf_ua(pdf)
    text = " ".join(pdf_text(pdf).split())
    assert "*gras* $x$ <x> @x" in text
    assert "#set page(width: 1cm)" in text and "Repas ]) #panic()" in text
    assert "Cantine #strong[!]" in text
