"""The commune's logo and emblem are served with the type of their verified content, never
the one their name suggests; anything else is a download; and an image is capped in pixels
as well as in bytes."""

import io

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from PIL import Image

from opsn.agents.models import Role
from opsn.branding.models import CommuneProfile
from tests.helpers.branding import form_data
from tests.helpers.communes import in_schema
from tests.helpers.identity import agent


def image(fmt: str = "PNG", size=(8, 8), mode="RGB") -> bytes:
    data = io.BytesIO()
    Image.new(mode, size, 0).save(data, format=fmt)
    return data.getvalue()


def upload(client, commune, field: str, content: bytes, name: str):
    file = io.BytesIO(content)
    file.name = name
    return client.post("/espace/identite/", {**form_data(commune), field: file})


@pytest.fixture
def admin(venissieux, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return agent(venissieux, "admin@venissieux.fr", Role.ADMINISTRATOR)


def served(commune, url: str):
    response = Client(HTTP_HOST=commune.primary_domain).get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


@pytest.mark.parametrize("fmt, name, content_type", [
    ("PNG", "logo.pdf", "image/png"),
    ("PNG", "logo.eps", "image/png"),
    ("JPEG", "logo.png", "image/jpeg"),
    ("WEBP", "logo.gif", "image/webp"),
])
def test_an_upload_is_served_with_the_type_of_its_content(venissieux, admin, tmp_path, fmt,
                                                          name, content_type):
    assert upload(admin, venissieux, "logo", image(fmt), name).status_code == 302
    response, body = served(venissieux, "/identite/logo")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "attachment" not in response.get("Content-Disposition", "")
    assert body == image(fmt)
    # Stored under the name of what it is.
    stored = [p.name for p in (tmp_path / venissieux.schema_name / "branding").iterdir()]
    assert stored == [f"logo.{content_type.split('/')[1].replace('jpeg', 'jpg')}"]


def test_a_stored_file_is_judged_by_its_content_not_its_name(venissieux, settings, tmp_path):
    """Files stored before these checks (or by other means) are served the same way."""
    settings.MEDIA_ROOT = tmp_path
    with in_schema(venissieux):
        profile = CommuneProfile.objects.get()
        profile.logo.save("logo.pdf", ContentFile(image("PNG")))
        profile.emblem.save("blason.png", ContentFile(b"<svg onload=alert(1)></svg>"))
    logo, _ = served(venissieux, "/identite/logo")
    assert logo["Content-Type"] == "image/png"
    emblem, body = served(venissieux, "/identite/blason")
    assert emblem.status_code == 200
    assert emblem["Content-Type"] == "application/octet-stream"
    assert emblem["Content-Disposition"].startswith("attachment")
    assert emblem["X-Content-Type-Options"] == "nosniff"
    assert body == b"<svg onload=alert(1)></svg>"


def test_an_image_too_large_in_pixels_is_refused_next_to_its_field(venissieux, admin, tmp_path):
    huge = image("PNG", (9000, 9000), mode="1")
    assert len(huge) < 1_000_000  # light in bytes: only its pixels are too many
    response = upload(admin, venissieux, "emblem", huge, "blason.png")
    assert response.status_code == 400
    assert response.context["form"].errors["emblem"] == [
        "Image trop grande : 9000 × 9000 pixels, 4096 × 4096 au plus. Réduisez-la avant de "
        "l'envoyer."]
    assert not list(tmp_path.rglob("blason*"))
    assert upload(admin, venissieux, "emblem", image("PNG", (4096, 64)),
                  "blason.png").status_code == 302
