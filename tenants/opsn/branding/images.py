"""The commune's images (logo, emblem): what an upload must be, and the type a stored file
is served with — always from what Pillow reads in the file, never from its name."""

from __future__ import annotations

import warnings
from typing import IO

from django.core.exceptions import ValidationError
from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 1_000_000
# In pixels, each side: a larger image costs every page and every PDF that embeds it.
MAX_IMAGE_SIDE = 4096
# Formats accepted, with the type they are served as and the extension they are stored
# under.
FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"),
           "WEBP": ("image/webp", "webp")}


def image_format(file: IO[bytes]) -> str | None:
    """The format Pillow reads in ``file`` (its header) when it is one of ``FORMATS``,
    else None. The file is read from its start and left there."""
    file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as img:
                fmt = img.format
    except (UnidentifiedImageError, OSError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):
        fmt = None
    finally:
        file.seek(0)
    return fmt if fmt in FORMATS else None


def checked_image(upload, *, stored_as: str):
    """An uploaded image, checked (bytes, format, pixels, a full verify) and renamed
    ``<stored_as>.<extension of its format>``. Refusals are French, next to the field."""
    if upload.size > MAX_IMAGE_BYTES:
        raise ValidationError("Image trop lourde : 1 Mo au plus.", code="too_heavy")
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as img:
                fmt, (width, height) = img.format, img.size
                if fmt in FORMATS and max(width, height) <= MAX_IMAGE_SIDE:
                    img.verify()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ValidationError(
            f"Image trop grande : {MAX_IMAGE_SIDE} × {MAX_IMAGE_SIDE} pixels au plus.",
            code="too_large") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValidationError("Ce fichier n'est pas une image lisible.",
                              code="not_an_image") from exc
    if fmt not in FORMATS:
        raise ValidationError("Formats acceptés : PNG, JPEG ou WebP.", code="format")
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ValidationError(
            f"Image trop grande : {width} × {height} pixels, {MAX_IMAGE_SIDE} × "
            f"{MAX_IMAGE_SIDE} au plus. Réduisez-la avant de l'envoyer.", code="too_large")
    upload.seek(0)
    upload.name = f"{stored_as}.{FORMATS[fmt][1]}"
    return upload


def served_as(file: IO[bytes]) -> tuple[str, str] | None:
    """The Content-Type and extension a stored file is served with: its verified image
    type, or None when it is not one of the accepted images (then it is served as an
    attachment)."""
    fmt = image_format(file)
    return FORMATS[fmt] if fmt else None
