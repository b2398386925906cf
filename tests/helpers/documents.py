"""Reading the PDF documents the platform writes: their text, and the PDF/UA check."""

from __future__ import annotations

import io

from pypdf import PdfReader


def pdf_text(data: bytes) -> str:
    """The text of every page, with French spaces (narrow, no-break) as plain spaces."""
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def is_pdf_ua(data: bytes) -> bool:
    """Tagged, with its structure tree, and declared PDF/UA-1 in its XMP metadata."""

    root = PdfReader(io.BytesIO(data)).trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data()
    return (bool(root["/MarkInfo"]["/Marked"]) and "/StructTreeRoot" in root
            and b"pdfuaid:part" in xmp and root["/Lang"] == "fr")


def page_count(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)
