"""The bank identifiers SEPA direct debit needs, checked before anything is kept: the
creditor identifier (ICS, French format ``FRkk ZZZ nnnnnn``), the IBAN and the BIC. The one
home of these rules (the pages, the API and the command read them here). Refusals in French.

The ICS's check digits are ISO 7064 MOD 97-10 (as an IBAN's) computed over the national
identifier followed by the country code, the creditor business code ``ZZZ`` skipped
(EPC262-08, « Creditor Identifier Overview »)."""

from __future__ import annotations

import re

from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10

from opsn.direct_debit.errors import DirectDebitError

_ICS = re.compile(r"FR(\d\d)([A-Z0-9]{3})([A-Z0-9]{6})")
# What a mandate reference (RUM) may hold: the SEPA Latin subset, 35 characters at most.
# We generate only capitals, digits and « - », what every French bank takes.
_RUM = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]{1,35}")
_RUM_SAFE = re.compile(r"[^A-Z0-9]")


def _compact(value: str, *, field: str, label: str, max_length: int = 60) -> str:
    if not isinstance(value, str):
        raise DirectDebitError(f"{label} est obligatoire.", field=field)
    if "\x00" in value:
        raise DirectDebitError(f"{label} contient un caractère nul, qu'aucune saisie ne peut "
                               "contenir.", field=field)
    compact = re.sub(r"[\s.\-]", "", value).upper()
    if not compact:
        raise DirectDebitError(f"{label} est obligatoire.", field=field)
    if len(compact) > max_length:
        raise DirectDebitError(f"{label} est trop long ({len(compact)} caractères).",
                               field=field)
    return compact


def ics_check_digits(national_id: str) -> str:
    return mod_97_10.calc_check_digits(national_id + "FR")


def clean_ics(value: str, *, field: str = "ics") -> str:
    """The ICS, compact and upper-case (``FR12ZZZ123456``), or a French refusal."""
    ics = _compact(value, field=field, label="L'identifiant créancier SEPA (ICS)")
    match = _ICS.fullmatch(ics)
    if not match:
        raise DirectDebitError(
            f"L'identifiant créancier SEPA (ICS) « {ics[:20]} » n'a pas la forme française "
            "FRkk ZZZ nnnnnn (13 caractères : FR, deux chiffres de contrôle, trois "
            "caractères, six caractères).", field=field)
    if ics_check_digits(match[3]) != match[1]:
        raise DirectDebitError(
            f"L'identifiant créancier SEPA (ICS) « {ics} » est erroné : ses chiffres de "
            "contrôle ne correspondent pas. Vérifiez-le sur le courrier de la Banque de "
            "France ou de la DGFiP qui l'a attribué.", field=field)
    return ics


def ics_suffix(ics: str) -> str:
    """The national identifier of an ICS (its last six characters)."""
    return ics[-6:]


def clean_iban(value: str, *, field: str = "iban") -> str:
    iban = _compact(value, field=field, label="L'IBAN")
    try:
        return stdnum_iban.validate(iban)
    except ValidationError:
        raise DirectDebitError(
            f"L'IBAN « {mask_iban(iban)} » est erroné (sa longueur, son pays ou sa clé de "
            "contrôle ne correspondent pas) : vérifiez-le sur le RIB.", field=field) from None


def clean_bic(value: str, *, field: str = "bic") -> str:
    bic = _compact(value, field=field, label="Le BIC")
    try:
        return stdnum_bic.validate(bic)
    except ValidationError:
        raise DirectDebitError(
            f"Le BIC « {bic[:20]} » est erroné : 8 ou 11 caractères (banque, pays, "
            "localité, agence), à recopier du RIB.", field=field) from None


def same_bank(bic_a: str, bic_b: str) -> bool:
    """Whether two BICs name the same bank (institution, country, location: the first
    eight characters; the branch does not matter)."""
    return bic_a[:8] == bic_b[:8]


def mask_iban(iban: str) -> str:
    """An IBAN as it is shown outside the form that enters it: its last four characters."""
    return f"•••• {iban[-4:]}" if iban else ""


def clean_rum(value: str, *, field: str = "rum") -> str:
    if "\x00" in value:
        raise DirectDebitError("La référence unique du mandat (RUM) contient un caractère "
                               "nul.", field=field)
    rum = value.strip()
    if not _RUM.fullmatch(rum):
        raise DirectDebitError(
            "La référence unique du mandat (RUM) doit faire 35 caractères au plus : "
            "lettres sans accent, chiffres et / - ? : ( ) . , ' +.", field=field)
    return rum


def rum_part(value: str, length: int) -> str:
    """A piece of a generated RUM: capitals and digits only, at most ``length``."""
    return _RUM_SAFE.sub("", value.upper())[:length]
