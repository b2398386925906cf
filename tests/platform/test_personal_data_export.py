"""Right of access: a citizen downloads, as JSON, everything the platform holds about
them across communes, and nothing of anyone else."""

import json

from django.contrib.auth import get_user_model
from django.test import Client

from opsn.agents.models import Role
from opsn.audit.models import AuditEvent
from opsn.citizens.models import LinkMethod, PayerLink
from opsn.regies.services.payments import payment_record
from tests.helpers.communes import in_schema
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
