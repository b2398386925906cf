"""A commune being moved between databases is read-only: its pages are served, every write
is refused with a clear French message (pages 503, the API's error shape with 503 and
Retry-After, the services' transactions), and it is writable again afterwards."""

from __future__ import annotations

import json

import pytest

from opsn.communes.models import Commune
from opsn.kernel.errors import CommuneReadOnly
from opsn.regies.models import Payer
from tests.helpers.communes import in_schema
from tests.helpers.regies import make_payer, make_regie


def read_only(commune: Commune) -> Commune:
    Commune.objects.filter(pk=commune.pk).update(moving_to="east")
    commune.refresh_from_db()
    return commune


def test_pages_are_read_and_forms_refused_while_the_commune_moves(client, venissieux):
    read_only(venissieux)
    host = venissieux.primary_domain
    assert client.get("/", HTTP_HOST=host).status_code == 200
    refused = client.post("/espace/", {"official_name": "X"}, HTTP_HOST=host)
    assert refused.status_code == 503 and refused["Retry-After"] == "120"
    page = refused.content.decode()
    assert "Modification impossible pour le moment" in page
    assert "Vénissieux est en lecture seule" in page and 'role="alert"' in page


def test_the_communes_api_answers_503_with_its_error_shape(client, venissieux):
    read_only(venissieux)
    refused = client.post("/api/v1/regies/R-001/payments", json.dumps({"payments": []}),
                          content_type="application/json",
                          HTTP_HOST=venissieux.primary_domain,
                          HTTP_AUTHORIZATION="Bearer opsn_c_whatever")
    assert refused.status_code == 503 and refused["Retry-After"] == "120"
    body = refused.json()
    assert body["code"] == "commune_read_only" and body["field"] is None
    assert "lecture seule" in body["message"]


def test_a_service_write_is_refused_and_nothing_is_written(venissieux):
    with in_schema(venissieux):
        regie = make_regie()
    read_only(venissieux)
    with in_schema(venissieux):
        with pytest.raises(CommuneReadOnly, match="aucune modification n'est enregistrée"):
            make_payer(regie)
        assert not Payer.objects.exists()
    Commune.objects.filter(pk=venissieux.pk).update(moving_to="")
    with in_schema(venissieux):
        make_payer(regie)  # writable again
        assert Payer.objects.count() == 1
