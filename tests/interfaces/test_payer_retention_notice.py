"""The payers' retention period: the platform's default (OPSN_PAYER_RETENTION_YEARS), a
commune's own set by its administrator, and the privacy notice and register saying it."""

import csv
import io

from django.test import Client

from opsn.agents.models import Role
from opsn.branding.models import PublicNotices
from opsn.branding.selectors import payer_retention_years
from tests.helpers.communes import in_schema
from tests.helpers.identity import agent

VENISSIEUX = "venissieux.localhost"
NOTICES = {"conformity": "", "publication_director": "Michèle Picard, maire",
           "dpo_contact": "dpo@venissieux.fr"}


def privacy(host=VENISSIEUX) -> str:
    response = Client(HTTP_HOST=host).get("/donnees-personnelles/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_privacy_notice_says_the_period_and_a_commune_sets_its_own(venissieux, vaulx,
                                                                        settings):
    settings.OPSN_PAYER_RETENTION_YEARS = 5
    text = privacy()
    assert "sont conservées <strong>5 ans</strong> après sa dernière facture" in text
    assert "coordonnées du payeur effacées et son nom pseudonymisé 5 ans après" in text

    admin = agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)
    assert 'name="payer_retention_years" value="5"' in admin.get(
        "/espace/mentions/").content.decode()
    for bad in ("0", "40", "trois"):
        response = admin.post("/espace/mentions/", {**NOTICES, "payer_retention_years": bad})
        assert response.status_code == 400, bad
    with in_schema(venissieux):
        assert not PublicNotices.objects.exists()

    response = admin.post("/espace/mentions/", {**NOTICES, "payer_retention_years": "3"})
    assert response.status_code == 302
    with in_schema(venissieux):
        assert payer_retention_years() == 3
    assert "sont conservées <strong>3 ans</strong>" in privacy()
    rows = list(csv.DictReader(io.StringIO(admin.get(
        "/espace/mentions/registre-des-traitements.csv").content.decode())))
    assert "pseudonymisé 3 ans après" in rows[0]["duree_de_conservation"]
    # the other commune keeps the platform's default
    assert "<strong>5 ans</strong>" in privacy("vaulx-en-velin.localhost")
    with in_schema(vaulx):
        assert payer_retention_years() == 5
    settings.OPSN_PAYER_RETENTION_YEARS = 1
    assert "<strong>1 an</strong>" in privacy("vaulx-en-velin.localhost")
