"""The accessibility statement, legal notices and privacy notice: per commune, filled
from the template with what the platform knows, edited by the commune's administrator;
the operator's own on its hosts; the « Je donne mon avis » button where configured."""

import csv
import datetime
import io
import json
import re
import zipfile
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import tablib
from django.test import Client

from opsn.agents.models import Role
from opsn.branding.models import CommuneProfile, PublicNotices
from opsn.online_payments.services import payfip_configure
from opsn.public_service.context import avis_image
from tests.helpers.communes import in_schema
from tests.helpers.identity import Browser, agent, make_account
from tests.helpers.regies import ADMIN, make_invoice, make_payer, make_regie

VENISSIEUX = "venissieux.localhost"
AVIS = ("https://voxusagers.numerique.gouv.fr/Demarches/3193?&amp;view-mode=formulaire-avis"
        "&amp;nd_mode=en-ligne-enti%C3%A8rement&amp;nd_source=button"
        "&amp;key=58e099a09c02abe629c14905ed2b055d")


def page(host: str, path: str) -> str:
    response = Client(HTTP_HOST=host).get(path)
    assert response.status_code == 200, (host, path, response.status_code)
    return response.content.decode()


def profile(commune, **fields):
    with in_schema(commune):
        CommuneProfile.objects.filter(pk=1).update(**fields)


def test_the_template_fills_a_communes_statement_with_what_the_platform_knows(venissieux,
                                                                             settings):
    settings.OPSN_ACCESSIBILITY_CONFORMITY = "partielle"
    settings.OPSN_ACCESSIBILITY_AUDIT_DATE = "2026-10-14"
    settings.OPSN_ACCESSIBILITY_AUDIT_RATE = "82.5"
    settings.OPSN_ACCESSIBILITY_AUDIT_BY = "Access42"
    profile(venissieux, official_name="Ville de Vénissieux", email="mairie@venissieux.fr",
            address_line="5 avenue Marcel Houël", postal_code="69200", city="Vénissieux")

    text = page(VENISSIEUX, "/accessibilite/")
    assert "Ville de Vénissieux s'engage à rendre ses sites" in text
    assert "est <strong>partiellement conforme</strong> avec le référentiel" in text
    assert "réalisé par Access42 le 14 octobre 2026" in text
    assert "<strong>82,5 %</strong> des critères du RGAA version 4.1" in text
    assert 'href="mailto:mairie@venissieux.fr"' in text
    assert "Défenseur des droits, Libre réponse 71120, 75342 Paris CEDEX 07" in text
    assert "Accessibilité : partiellement conforme" in text  # the footer says it too

    legal = page(VENISSIEUX, "/mentions-legales/")
    assert "édité par <strong>Ville de Vénissieux</strong>, 5 avenue Marcel Houël, 69200" in legal
    assert "Le maire ou la maire de Vénissieux" in legal
    assert f"hébergé par <strong>{settings.OPSN_OPERATOR['name']}</strong>" in legal

    privacy = page(VENISSIEUX, "/donnees-personnelles/")
    assert "<strong>Responsable de traitement</strong> : Ville de Vénissieux" in privacy
    operator = settings.OPSN_OPERATOR["name"]
    assert f"<strong>Sous-traitant</strong> (article 28 du RGPD) : {operator}" in privacy
    assert settings.OPSN_DPO_CONTACT in privacy
    assert "CNIL" in privacy


def test_the_administrator_edits_the_notices_and_every_page_says_them(venissieux, vaulx):
    admin = agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)
    form = admin.get("/espace/mentions/")
    assert form.status_code == 200
    assert 'value="Le maire ou la maire de Vénissieux"' in form.content.decode()  # pre-filled

    response = admin.post("/espace/mentions/", {
        "conformity": "partielle", "audit_date": "2026-11-02", "audit_rate": "74",
        "audit_by": "la mission accessibilité", "non_conformities":
        "Critère 1.2 : une image décorative a une alternative (page d'accueil)\n"
        "Critère 11.1 : un champ sans étiquette (recherche)",
        "derogations": "", "feedback_contact": "accessibilite@venissieux.fr",
        "statement_date": "2026-11-03", "publication_director": "Michèle Picard, maire",
        "dpo_contact": "dpo@venissieux.fr", "privacy_additions": "",
        "avis_service_id": "3193", "avis_key": "58E099A09C02ABE629C14905ED2B055D"})
    assert response.status_code == 302
    with in_schema(venissieux):
        row = PublicNotices.objects.get()
    assert row.audit_rate == Decimal("74") and row.audit_date == datetime.date(2026, 11, 2)

    text = page(VENISSIEUX, "/accessibilite/")
    assert "<li>Critère 11.1 : un champ sans étiquette (recherche)</li>" in text
    assert "<strong>74 %</strong>" in text
    assert "Michèle Picard, maire" in page(VENISSIEUX, "/mentions-legales/")
    assert "dpo@venissieux.fr" in page(VENISSIEUX, "/donnees-personnelles/")
    home = page(VENISSIEUX, "/")
    assert AVIS in home and "Je donne mon avis" in home
    # Another commune keeps the template's values and has no button.
    other = page("vaulx-en-velin.localhost", "/")
    assert "voxusagers" not in other and "Accessibilité : non conforme" in other


def test_bad_values_are_refused_with_why_and_nothing_saved(venissieux):
    admin = agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)
    response = admin.post("/espace/mentions/", {
        "conformity": "partielle", "audit_rate": "140", "avis_service_id": "abc",
        "avis_key": "zz", "publication_director": "x"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Assurez-vous que cette valeur est inférieure ou égale à 100" in text
    assert "Identifiant de démarche attendu : des chiffres seulement" in text
    assert "Clé attendue : 32 caractères hexadécimaux" in text
    with in_schema(venissieux):
        assert not PublicNotices.objects.exists()


def test_only_the_administrator_edits_the_notices(venissieux):
    regisseur = agent(venissieux, "regisseur@venissieux.fr", Role.REGISSEUR)
    assert regisseur.get("/espace/mentions/").status_code == 403
    anonymous = Client(HTTP_HOST=VENISSIEUX).get("/espace/mentions/")
    assert anonymous.status_code == 302


def test_the_operator_has_its_own_notices_on_its_hosts(db, settings):
    settings.OPSN_AVIS_SERVICE_ID = "3193"
    settings.OPSN_AVIS_KEY = "58e099a09c02abe629c14905ed2b055d"
    for host in ("console.localhost", "localhost", "connexion.localhost"):
        legal = page(host, "/mentions-legales/")
        assert f"édité par <strong>{settings.OPSN_OPERATOR['name']}</strong>" in legal
        assert settings.OPSN_PUBLICATION_DIRECTOR in legal
        privacy = page(host, "/donnees-personnelles/")
        assert "le responsable de traitement est <strong>la commune</strong>" in privacy
        assert "non conforme" in page(host, "/accessibilite/")
        assert AVIS in legal  # the footer's button, the operator's démarche


def test_the_button_needs_nothing_more_from_the_content_security_policy(db, settings):
    response = Client(HTTP_HOST="localhost").get("/mentions-legales/")
    before = response["Content-Security-Policy"]
    settings.OPSN_AVIS_SERVICE_ID = "3193"
    settings.OPSN_AVIS_KEY = "58e099a09c02abe629c14905ed2b055d"
    response = Client(HTTP_HOST="localhost").get("/mentions-legales/")
    html = response.content.decode()
    assert AVIS in html and 'target="_blank"' in html
    # A link: no image, script or form from elsewhere, so the policy is the same.
    assert response["Content-Security-Policy"] == before
    assert "img-src 'self' data:;" in before and "voxusagers" not in before
    assert not re.search(r'<(img|script|iframe)[^>]+src="https?://', html)
    assert "je-donne-mon-avis.svg" not in html  # not shipped: the styled link


def test_the_official_image_once_the_operator_installs_it(db, settings, tmp_path):
    """The State's image is not shipped (docs/public-service.md); put among the static
    files, it replaces the styled link, served from the site itself (img-src 'self')."""
    (tmp_path / "public_service").mkdir()
    (tmp_path / "public_service" / "je-donne-mon-avis.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 85"/>')
    settings.STATICFILES_DIRS = [str(tmp_path)]
    settings.OPSN_AVIS_SERVICE_ID = "3193"
    settings.OPSN_AVIS_KEY = "58e099a09c02abe629c14905ed2b055d"
    avis_image.cache_clear()
    try:
        response = Client(HTTP_HOST="localhost").get("/mentions-legales/")
    finally:
        avis_image.cache_clear()
    html = response.content.decode()
    assert AVIS in html
    assert ('<img src="/static/public_service/je-donne-mon-avis.svg" alt="Je donne mon avis"'
            in html)
    assert "img-src 'self' data:;" in response["Content-Security-Policy"]
    assert not re.search(r'<(img|script|iframe)[^>]+src="https?://', html)


def test_the_button_follows_a_paid_online_payment(venissieux):
    with in_schema(venissieux):
        regie = make_regie(accepted_modes=["cash", "online"])
        payfip_configure(regie=regie, actor=ADMIN, numcli="123456")
        family = make_payer(regie, "Famille Durand", email="famille.durand@example.fr")
        invoice = make_invoice(regie, family, "74.75", number="R-CANT-2026-00004")
        PublicNotices.objects.create(pk=1, avis_service_id="3193",
                                     avis_key="58e099a09c02abe629c14905ed2b055d")
    make_account("camille.durand@citoyen.test")
    browser = Browser()
    where, _ = browser.sign_in(VENISSIEUX, "camille.durand@citoyen.test")
    client = browser.client(VENISSIEUX)
    assert client.post("/mon-espace/rattachements/", {"code": family.link_code}).status_code == 302
    location = urlsplit(client.post(f"/mon-espace/payer/{venissieux.pk}/{invoice.pk}/")
                        ["Location"])
    where, outcome = browser.go(f"{location.path}?{location.query}", host="localhost",
                                data={"idop": parse_qs(location.query)["idop"][0],
                                      "choix": "payer"})
    page = outcome.content.decode()
    assert where == VENISSIEUX and "Paiement accepté" in page
    assert page.count("voxusagers.numerique.gouv.fr/Demarches/3193?") == 2  # page, footer


def test_the_register_of_processing_activities_exports(venissieux):
    profile(venissieux, official_name="Ville de Vénissieux", address_line="5 avenue Marcel Houël",
            postal_code="69200", city="Vénissieux")
    admin = agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)
    response = admin.get("/espace/mentions/registre-des-traitements.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["identifiant"] for r in rows] == ["regies", "espace_citoyen",
                                                "paiement_en_ligne", "securite"]
    assert rows[0]["responsable_de_traitement"] == (
        "Ville de Vénissieux, 5 avenue Marcel Houël, 69200 Vénissieux")
    assert rows[0]["duree_de_conservation"].startswith("dix ans pour les pièces comptables")
    data = json.loads(admin.get("/espace/mentions/registre-des-traitements.json").content)
    assert data["insee_code"] == venissieux.insee_code
    assert data["traitements"][2]["traitement"] == "Paiement en ligne (PayFiP)"
    # The privacy notice says the same purposes.
    assert rows[2]["finalite"] in page(VENISSIEUX, "/donnees-personnelles/")
    regisseur = agent(venissieux, "regisseur@venissieux.fr", Role.REGISSEUR)
    assert regisseur.get("/espace/mentions/registre-des-traitements.csv").status_code == 403
    assert regisseur.get("/espace/mentions/registre-des-traitements.ods").status_code == 403


def test_the_register_opens_as_a_spreadsheet(venissieux):
    profile(venissieux, official_name="Ville de Vénissieux", address_line="5 avenue Marcel Houël",
            postal_code="69200", city="Vénissieux")
    with in_schema(venissieux):
        PublicNotices.objects.update_or_create(pk=1, defaults={"payer_retention_years": 7})
    admin = agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)
    assert "registre-des-traitements.ods" in admin.get("/espace/mentions/").content.decode()
    response = admin.get("/espace/mentions/registre-des-traitements.ods")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oasis.opendocument.spreadsheet"
    assert 'filename="registre-des-traitements.ods"' in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
    assert 'table:name="Traitements"' in archive.read("content.xml").decode()
    sheet = tablib.Dataset().load(response.content, format="ods")
    assert sheet.headers[:3] == ["identifiant", "traitement", "finalite"]
    rows = sheet.dict
    assert [r["identifiant"] for r in rows] == ["regies", "espace_citoyen",
                                                "paiement_en_ligne", "securite"]
    assert rows[0]["responsable_de_traitement"] == (
        "Ville de Vénissieux, 5 avenue Marcel Houël, 69200 Vénissieux")
    assert rows[2]["traitement"] == "Paiement en ligne (PayFiP)"
    # The commune's own retention period, as in the CSV and the privacy notice.
    csv_rows = list(csv.DictReader(io.StringIO(
        admin.get("/espace/mentions/registre-des-traitements.csv").content.decode())))
    assert [r["duree_de_conservation"] for r in rows] == [
        r["duree_de_conservation"] for r in csv_rows]
    assert any("7 ans" in r["duree_de_conservation"] for r in rows)
