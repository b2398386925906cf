"""Typst, the typesetter of the invoice documents (docs/decisions/0016-invoice-documents.md).
Nothing here reads the database or Django: the child processes that typeset a batch
import this module alone (they are spawned, not forked — the compiler's threads do not
survive a fork)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import typst

TEMPLATES = Path(__file__).resolve().parent / "typst"
INVOICE, CERTIFICATE, BATCH = "invoice.typ", "certificate.typ", "batch.typ"

# A compiler is not to be shared between threads (a second compile while one runs raises
# « Already borrowed »: the job worker and the web server run several threads), so each
# thread keeps its own.
_LOCAL = threading.local()


def _compiler(template: str) -> typst.Compiler:
    """One compiler per template and thread: fonts and templates are loaded once. Its
    root is "/": the commune's logo is read from its absolute path under MEDIA_ROOT.
    ``template``: a file of TEMPLATES, or another app's template by its absolute path
    (the right of access's document, ``opsn.citizens.personal_data_document``)."""
    compilers: dict[str, typst.Compiler] = getattr(_LOCAL, "compilers", None) or {}
    _LOCAL.compilers = compilers
    compiler = compilers.get(template)
    if compiler is None:
        compiler = compilers[template] = typst.Compiler(str(TEMPLATES / template), root="/")
    return compiler


def typeset_json(template: str, data: str) -> bytes:
    """The template filled with ``data`` (a JSON object, read by the template as
    ``sys.inputs.data``: its strings are text, never markup), tagged PDF/UA-1."""
    pdf = _compiler(template).compile(sys_inputs={"data": data}, pdf_standards=["ua-1"])
    if not isinstance(pdf, bytes):  # one file for a PDF; a list is for images per page
        raise TypeError("Typst gave no PDF")
    return pdf


def typeset(template: str, data: dict | list) -> bytes:
    return typeset_json(template, json.dumps(data))


def typeset_job(job: tuple[str, str]) -> bytes:
    """What a child process does: (template, JSON) to PDF."""
    return typeset_json(*job)
