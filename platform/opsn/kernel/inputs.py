"""What any input may hold, wherever it comes from: a page's query string or form, an API's
path, query or JSON body, a file imported into a régie, a command's arguments.

- no NUL character: PostgreSQL's text cannot hold one (the driver raises, the request
  ended in a 500);
- no lone surrogate (``"\\ud800"`` in JSON): it is not a character, UTF-8 cannot encode it;
- no value longer than anything we keep (``MAX_LENGTH``; a form field ``MAX_FORM_LENGTH``);
- no whole number beyond what a database column takes (a bigint): a 40-digit year, an
  ``offset`` past 2⁶³ reached the database and failed there.

The one home of the rule (docs/architecture.md, "Where each rule lives"): the input guard
(``opsn.operations.input_guard``) applies it to every request before any view, the
importers to every file (``file_problem``), ``DomainCommand`` to every command's
arguments. What a particular field accepts (a date, an amount, a length of 30) stays
with that field; this is the floor under all of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from opsn.kernel.errors import DomainError

BIGINT = 2**63 - 1  # the largest number a database column takes (bigint)
# The longest value of a query string, a path segment, a JSON string or a command's
# argument: more than any field we keep (the longest are free texts of a few hundred
# characters, a signed ID token in a query string is about 1,500).
MAX_LENGTH = 4_096
MAX_FORM_LENGTH = 100_000  # a form field: a pasted list of INSEE codes, an observation

_INTEGER = re.compile(r"\s*([+-]?)0*(\d+)\s*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DIGITS_19 = re.compile(rb"[0-9]{19}")


class InvalidInput(DomainError):
    code = "invalid_input"
    http_status = 400


def problem(value: str, *, max_length: int = MAX_LENGTH, numbers: bool = True) -> str | None:
    """What is wrong with ``value``, in French, to follow its name (« contient … »); None
    when nothing is. ``numbers``: a value made of digits only is a number, which must fit
    a database column."""
    if "\x00" in value:
        return "contient un caractère nul (%00), qu'aucune saisie ne peut contenir"
    if len(value) > max_length:
        return (f"est trop long : {len(value):,} caractères, {max_length:,} au plus"
                .replace(",", "\u202f"))
    if not value.isascii() and _SURROGATE.search(value):
        return "contient un caractère Unicode invalide (une demi-paire de substitution)"
    if numbers and (match := _INTEGER.fullmatch(value)) and out_of_range(match[2]):
        return "est un nombre hors limites (19 chiffres au plus)"
    return None


def out_of_range(digits: str) -> bool:
    """Digits (no sign, no leading zeros) a bigint column cannot hold."""
    return len(digits) > 19 or int(digits) > BIGINT


def check(value: str, *, field: str, label: str = "", **limits: Any) -> str:
    """``value`` itself, or ``InvalidInput`` naming ``field`` (« La valeur de « q » … »)."""
    if (found := problem(value, **limits)) is not None:
        raise InvalidInput(f"{label or f'La valeur de « {field} »'} {found}.", field=field)
    return value


def check_number(value: int, *, field: str, label: str = "") -> int:
    if abs(value) > BIGINT:
        raise InvalidInput(f"{label or f'La valeur de « {field} »'} est un nombre hors "
                           "limites (19 chiffres au plus).", field=field)
    return value


def json_problems(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, problem) of each bad key or value in parsed JSON (``payments.0.amount``)."""
    if isinstance(data, str):
        if (found := problem(data, numbers=False)) is not None:
            yield path, found
    elif isinstance(data, bool):
        return
    elif isinstance(data, int):
        if abs(data) > BIGINT:
            yield path, "est un nombre hors limites (19 chiffres au plus)"
    elif isinstance(data, dict):
        for key, value in data.items():
            inner = f"{path}.{key}" if path else str(key)
            if (found := problem(key, numbers=False)) is not None:
                yield path or "(corps)", f"a un nom de champ qui {found}"
            yield from json_problems(value, inner)
    elif isinstance(data, list):
        for n, value in enumerate(data):
            yield from json_problems(value, f"{path}.{n}" if path else str(n))


def _constant(name: str):
    raise ValueError(name)  # NaN, Infinity: not JSON, whatever Python's reader accepts


def json_body_problem(body: bytes) -> tuple[str, str] | None:
    """The first (path, problem) of a JSON body; None when it has none, or is not JSON
    (the API says so in its own words)."""
    if len(body) <= MAX_LENGTH and b"\\u" not in body and not _DIGITS_19.search(body):
        # Most bodies (one payment: a few hundred bytes): a NUL or a surrogate can only be
        # written as an escape, no string can be too long, no number too large.
        return None
    try:
        data = json.loads(body, parse_constant=_constant)
    except ValueError:  # not JSON, or not UTF-8: the API refuses it as malformed
        return None
    return next(json_problems(data), None)


def file_problem(content: bytes | str) -> tuple[int, str] | None:
    """The line of the first NUL of a file (as bytes, or the text read from them) and what
    to say of it; None when it has none. (Decoded UTF-8 or Windows-1252 cannot hold a
    lone surrogate: a NUL is the one character a file may bring that no input may hold.)"""
    nul, newline = ("\x00", "\n") if isinstance(content, str) else (b"\x00", b"\n")
    found = content.find(nul)  # type: ignore[arg-type]
    if found < 0:
        return None
    return (content.count(newline, 0, found) + 1,  # type: ignore[arg-type]
            "Le fichier contient un caractère nul (octet 0x00) : ce n'est pas un fichier "
            "texte en UTF-8 ou en Windows-1252 (un export en UTF-16 ? enregistrez-le au "
            "format « CSV UTF-8 »).")
