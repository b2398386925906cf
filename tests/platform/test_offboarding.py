"""Offboarding exports the whole schema first, then removes; the export restores.

pg_dump and pg_restore are separate processes that see only committed data, so these
tests commit for real and clean up after themselves (``committed`` fixture).
"""

import tarfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from stdnum.fr import siret

from opsn.agents.models import AgentRole, Role
from opsn.branding.models import CommuneProfile
from opsn.communes import archive, schemas, services
from opsn.communes.errors import ExportFailed, InvalidState
from opsn.communes.models import Commune, CommuneArchive, Domain
from tests.helpers.communes import in_schema


def corbas_with_data():
    commune = services.commune_onboard(insee_code="69273", custom_domains=["corbas-paie.fr"])
    with in_schema(commune):
        CommuneProfile.objects.filter(pk=1).update(official_name="Ville de Corbas",
                                                   primary_color="#123456")
        AgentRole.objects.create(account="regie@corbas.fr", role=Role.REGISSEUR)
    head_office = next(f"{commune.siren}{n:05d}" for n in range(100)
                       if siret.is_valid(f"{commune.siren}{n:05d}"))
    commune = services.commune_set_billing(commune=commune, billing_siret=head_office,
                                           service_code="DSI", service_code_required=True)
    return commune


def test_offboarding_exports_then_removes_and_the_export_restores(committed):
    commune = corbas_with_data()

    record = archive.commune_offboard(commune=commune)

    assert not Commune.objects.filter(insee_code="69273").exists()
    assert not Domain.objects.filter(domain__in=["corbas.localhost", "corbas-paie.fr"]).exists()
    assert not schemas.schema_exists("c_69273")
    assert Client(HTTP_HOST="corbas.localhost").get("/").status_code == 404
    with tarfile.open(record.path) as tar:
        assert {"manifest.json", "schema.dump"} <= set(tar.getnames())
    assert archive.read_manifest(record.path)["commune"]["name"] == "Corbas"

    restored = archive.commune_restore(path=record.path)

    assert restored.schema_name == "c_69273"
    assert sorted(d.domain for d in restored.domains.all()) == ["corbas-paie.fr",
                                                               "corbas.localhost"]
    assert restored.modules.count() == 6
    assert (restored.billing_siret[:9], restored.service_code,
            restored.service_code_required) == (restored.siren, "DSI", True)
    with in_schema(restored):
        assert CommuneProfile.objects.get().official_name == "Ville de Corbas"
        assert AgentRole.objects.filter(account="regie@corbas.fr").exists()
    page = Client(HTTP_HOST="corbas-paie.fr").get("/")
    assert page.status_code == 200
    assert "--primary: #123456" in page.content.decode()


def test_nothing_is_removed_when_the_export_fails(committed, monkeypatch):
    commune = corbas_with_data()
    monkeypatch.setattr(archive, "postgres_binary",
                        lambda name, version=None: "/nonexistent/pg_dump")

    with pytest.raises((ExportFailed, FileNotFoundError)):
        archive.commune_offboard(commune=commune)

    assert Commune.objects.filter(insee_code="69273").exists()
    assert schemas.schema_exists("c_69273")
    assert Client(HTTP_HOST="corbas.localhost").get("/").status_code == 200
    assert not CommuneArchive.objects.exists()


def test_a_damaged_archive_is_refused_before_anything_is_restored(committed, tmp_path):
    commune = corbas_with_data()
    record = archive.commune_export(commune=commune)
    damaged = tmp_path / "damaged.opsn.tar"
    data = bytearray(Path(record.path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))

    with pytest.raises(InvalidState):
        archive.commune_restore(path=damaged)
    with pytest.raises(CommandError, match="n'est pas une archive|empreinte|déjà"):
        call_command("restore_commune", str(tmp_path / "missing.tar"))


def test_restoring_a_commune_that_is_still_here_is_refused(committed):
    commune = corbas_with_data()
    record = archive.commune_export(commune=commune)
    with pytest.raises(Exception, match="déjà accueillie"):
        archive.commune_restore(path=record.path)
