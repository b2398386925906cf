"""The payer's page: erasing its contact details on request — who may, what is refused
and how it says so (never a 500)."""

from opsn.agents.models import Role
from opsn.audit.models import AuditEvent
from opsn.regies.models import Payer
from tests.helpers.communes import in_schema
from tests.helpers.identity import agent
from tests.helpers.regies import make_invoice, make_payer, make_regie

CONTACT = {"email": "camille@exemple.fr", "phone": "06 12 34 56 78",
           "address_line": "3 rue des Lilas", "postal_code": "69200", "city": "Vénissieux"}
REASON = "Demande du payeur par courriel du 2 décembre"


def form(reason=REASON, confirm=True):
    data = {"effacement-reason": reason}
    if confirm:
        data["effacement-confirm"] = "on"
    return data


def test_the_titulaire_erases_a_payers_contact_details_from_its_page(venissieux):
    with in_schema(venissieux):
        canteen = make_regie()
        payer = make_payer(canteen, "Famille Durand", **CONTACT)
    titulaire = agent(venissieux, "regisseur@venissieux.fr", Role.REGISSEUR)
    page_url = f"/espace/regies/{canteen.number}/payeurs/{payer.pk}/"
    page = titulaire.get(page_url).content.decode()
    assert "Effacer ses coordonnées" in page and "Motif de l&#x27;effacement" in page

    response = titulaire.post(f"{page_url}effacer/", form(), follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Coordonnées effacées (courriel, téléphone, adresse, code postal, commune)" in text
    assert "camille@exemple.fr" not in text and "il n'y a rien à effacer" in text
    with in_schema(venissieux):
        payer.refresh_from_db()
        assert (payer.name, payer.email, payer.city) == ("Famille Durand", "", "")
        [event] = AuditEvent.objects.filter(code="payer.erased")
        assert event.actor == "regisseur@venissieux.fr" and REASON in event.summary


def test_bad_requests_are_refused_with_why(venissieux, vaulx):
    with in_schema(venissieux):
        canteen = make_regie()
        library = make_regie("R-002", "Médiathèque", staff=False)
        payer = make_payer(canteen, "Famille Durand", **CONTACT)
        owing = make_payer(canteen, "Famille Voisin", **CONTACT)
        make_invoice(canteen, owing, "12.00", number="CANT-2026-99")
    with in_schema(vaulx):
        pool = make_regie("P-01", "Piscine municipale")
        for n in range(3):
            elsewhere = make_payer(pool, f"Nageur {n}")
    admin = agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)
    base = f"/espace/regies/{canteen.number}/payeurs"

    # another régie's, another commune's payer: not found
    assert admin.post(f"/espace/regies/{library.number}/payeurs/{payer.pk}/effacer/",
                      form()).status_code == 404
    assert admin.post(f"/espace/regies/{pool.number}/payeurs/{elsewhere.pk}/effacer/",
                      form()).status_code == 404
    assert admin.post(f"{base}/{elsewhere.pk + 100}/effacer/", form()).status_code == 404
    assert admin.get(f"{base}/{payer.pk}/effacer/").status_code == 405

    for data, message in (
            (form(reason=""), "Indiquez le motif de l&#x27;effacement."),
            (form(reason="   "), "Indiquez le motif de l&#x27;effacement"),
            (form(reason="x" * 400), "300 caractères au plus"),
            (form(confirm=False), "Cochez la case pour confirmer l&#x27;effacement."),
    ):
        response = admin.post(f"{base}/{payer.pk}/effacer/", data)
        assert response.status_code == 400, data
        text = response.content.decode()
        assert "Rien n'a été effacé" in text and message in text, (data, text[-3000:])

    # a NUL byte is refused before any view, by the platform (opsn.kernel.inputs)
    response = admin.post(f"{base}/{payer.pk}/effacer/", form(reason="a\x00b"))
    assert response.status_code == 400
    assert "Requête incorrecte" in response.content.decode()

    response = admin.post(f"{base}/{owing.pk}/effacer/", form())
    assert response.status_code == 400
    assert ("Effacement refusé : la facture CANT-2026-99 (12,00 €) reste à payer"
            in response.content.decode())

    mandataire = agent(venissieux, "caisse@venissieux.fr", Role.MANDATAIRE)
    response = mandataire.post(f"{base}/{payer.pk}/effacer/", form())
    assert response.status_code == 403
    assert "Seuls l&#x27;administrateur de la commune et le régisseur titulaire" in (
        response.content.decode())

    with in_schema(venissieux):
        assert Payer.objects.filter(email="camille@exemple.fr").count() == 2
        assert not AuditEvent.objects.filter(code="payer.erased").exists()
