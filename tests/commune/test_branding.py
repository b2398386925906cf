"""The commune's administrator edits its profile; bad colours and SIRET are refused."""

import io

import pytest
from django.test import Client
from PIL import Image

from opsn.agents.models import Role
from opsn.branding.contrast import contrast_ratio, passes_aa
from opsn.branding.models import CommuneProfile
from tests.helpers.branding import form_data
from tests.helpers.communes import in_schema
from tests.helpers.identity import agent, sign_in


@pytest.mark.parametrize("fg, bg, ratio", [
    ("#FFFFFF", "#000000", 21.0),
    ("#FFFFFF", "#FFFFFF", 1.0),
    ("#FFFFFF", "#767676", 4.54),
    ("#FFFFFF", "#777777", 4.48),
])
def test_contrast_ratio_follows_wcag(fg, bg, ratio):
    assert round(contrast_ratio(fg, bg), 2) == ratio
    assert passes_aa(fg, bg) is (ratio >= 4.5)


def signed_in(commune, account, roles=(Role.ADMINISTRATOR,)):
    return agent(commune, account, *roles)


def test_the_administrator_changes_name_colours_and_siret(venissieux):
    client = signed_in(venissieux, "admin@venissieux.fr")
    response = client.post("/espace/identite/", form_data(
        venissieux, official_name="Ville de Vénissieux", primary_color="#003366",
        siret="21690259300005", address_line="5 avenue Marcel Houël", phone="04 72 21 44 44"))
    assert response.status_code == 302

    page = Client(HTTP_HOST="venissieux.localhost").get("/").content.decode()
    assert "Ville de Vénissieux" in page
    assert "--primary: #003366" in page
    assert "5 avenue Marcel Houël" in page


def test_a_colour_pair_below_4_5_to_1_is_refused_and_nothing_is_saved(venissieux):
    client = signed_in(venissieux, "admin@venissieux.fr")
    response = client.post("/espace/identite/", form_data(
        venissieux, official_name="Nouveau nom", primary_color="#FFD700",
        primary_text_color="#FFFFFF"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Contraste insuffisant entre la couleur principale #FFD700 et son texte #FFFFFF" in page
    assert "1,40:1" in page or "1.40:1" in page
    with in_schema(venissieux):
        assert CommuneProfile.objects.get().official_name == "Mairie de Vénissieux"


def test_a_malformed_siret_is_refused_with_a_clear_message(venissieux):
    client = signed_in(venissieux, "admin@venissieux.fr")
    response = client.post("/espace/identite/", form_data(venissieux, siret="21690259300006"))
    assert response.status_code == 400
    assert "SIRET invalide" in response.content.decode()


def test_a_logo_is_served_only_under_its_own_commune(venissieux, vaulx, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = signed_in(venissieux, "admin@venissieux.fr")
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "#003366").save(png, format="PNG")
    png.seek(0)
    png.name = "logo.png"
    data = form_data(venissieux)
    data["logo"] = png
    assert client.post("/espace/identite/", data).status_code == 302

    logo = Client(HTTP_HOST="venissieux.localhost").get("/identite/logo")
    assert logo.status_code == 200
    assert b"".join(logo.streaming_content).startswith(b"\x89PNG")
    assert list(tmp_path.glob(f"{venissieux.schema_name}/branding/*.png"))
    assert Client(HTTP_HOST="vaulx-en-velin.localhost").get("/identite/logo").status_code == 404


def test_a_file_that_is_not_an_image_is_refused(venissieux, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client = signed_in(venissieux, "admin@venissieux.fr")
    fake = io.BytesIO(b"<svg onload=alert(1)></svg>")
    fake.name = "logo.png"
    data = form_data(venissieux)
    data["logo"] = fake
    response = client.post("/espace/identite/", data)
    assert response.status_code == 400
    assert not list(tmp_path.rglob("*.png"))


def test_an_agent_without_the_administrator_role_cannot_edit(venissieux):
    client = signed_in(venissieux, "caisse@venissieux.fr", roles=(Role.MANDATAIRE,))
    assert client.get("/espace/identite/").status_code == 403


def test_an_administrator_of_another_commune_cannot_edit_this_one(venissieux, vaulx):
    signed_in(vaulx, "admin@vaulx.fr")  # administrator of Vaulx-en-Velin only
    client = sign_in("venissieux.localhost", "admin@vaulx.fr")
    assert client.get("/espace/identite/").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(venissieux):
    response = Client(HTTP_HOST="venissieux.localhost").get("/espace/identite/")
    assert response.status_code == 302
    assert response["Location"].startswith("/compte/connexion/")
