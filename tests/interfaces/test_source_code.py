"""AGPL-3.0 §13: every page links « Code source », which offers the running code as a
.tar.gz (LICENSE and the opsn package, never a secret nor var/'s data); publiccode.yml
describes the software."""

import io
import tarfile
from pathlib import Path

import yaml
from django.test import Client

from opsn.public_service import source

REPO = Path(__file__).resolve().parents[2]


def test_the_source_page_offers_the_running_code(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    page = Client(HTTP_HOST="localhost").get("/code-source/").content.decode()
    assert "GNU Affero General Public License, version 3 ou ultérieure" in page
    name = source.archive_name()
    assert f'href="/code-source/{name}"' in page
    assert "forge publique" not in page

    response = Client(HTTP_HOST="venissieux.localhost").get(f"/code-source/{name}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/gzip"
    assert f'filename="{name}"' in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = tar.getnames()
        top = name.removesuffix(".tar.gz")
        license_text = tar.extractfile(f"{top}/LICENSE").read().decode()
    assert "GNU AFFERO GENERAL PUBLIC LICENSE" in license_text
    for expected in ("platform/opsn/settings.py", "platform/opsn/public_service/source.py",
                     "tenants/opsn/regies/models/ledger.py", "pyproject.toml", "setup.py",
                     "README.md", "publiccode.yml", "docs/public-service.md",
                     "platform/opsn/templates/opsn/base.html"):
        assert f"{top}/{expected}" in names, expected
    assert all(n.startswith(f"{top}/") for n in names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")
                or "/var/" in n or n.endswith((".pem", ".key")) or "/.env" in n]
    # Built once per version (and state of the files): kept, and answered again as is.
    [kept] = (tmp_path / "source").glob("opsn-*.tar.gz")
    assert kept.read_bytes() == data
    again = Client(HTTP_HOST="localhost").get(f"/code-source/{name}")
    assert b"".join(again.streaming_content) == data


def test_the_archive_leaves_out_the_data_folder_and_secrets(db, settings, tmp_path):
    inside = REPO / "platform" / "opsn" / "public_service" / "secret-test.pem"
    inside.write_text("-----BEGIN PRIVATE KEY-----")
    try:
        settings.DATA_DIR = tmp_path
        names = [n for _, n in source.files()]
    finally:
        inside.unlink()
    assert "platform/opsn/public_service/source.py" in names
    assert not any(n.endswith("secret-test.pem") for n in names)
    assert not any(n.startswith("var/") for n in names)


def test_an_unknown_version_leads_to_the_running_one(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    response = Client(HTTP_HOST="localhost").get("/code-source/opsn-0.0.1.tar.gz")
    assert response.status_code == 302
    assert response["Location"] == f"/code-source/{source.archive_name()}"


def test_a_public_forge_is_named_when_set(db, settings):
    settings.OPSN_SOURCE_URL = "https://forge.example.fr/opsn/opsn"
    page = Client(HTTP_HOST="localhost").get("/code-source/").content.decode()
    assert 'href="https://forge.example.fr/opsn/opsn"' in page


def test_publiccode_yml_describes_the_software():
    data = yaml.safe_load((REPO / "publiccode.yml").read_text())
    assert data["publiccodeYmlVersion"] == "0.4"
    assert data["legal"]["license"] == "AGPL-3.0-or-later"
    fr = data["description"]["fr"]
    assert len(fr["shortDescription"]) <= 150
    assert 150 <= len(fr["longDescription"]) <= 10000
    assert "paiement en ligne par PayFiP (DGFiP)" in fr["features"]
    assert data["localisation"]["availableLanguages"] == ["fr"]
    for key in ("name", "url", "platforms", "categories", "developmentStatus",
                "softwareType", "maintenance"):
        assert key in data
