"""The right of access as a readable PDF: the JSON export (``personal_data``), the one home
of what is exported, laid out for a person to read — headings, label/value pairs and
tables, in French, amounts and dates as the pages write them — and typeset by Typst, the
renderer of the invoices (``opsn.regies.typesetting``; decision 0016), tagged PDF/UA-1.
The platform's apps sit above the commune domain, so the citizens app may call it."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.utils import timezone

from opsn.citizens.models import LinkMethod
from opsn.direct_debit.models import MandateKind, MandateStatus
from opsn.kernel.money import euros, format_cents
from opsn.online_payments.models import PaymentState
from opsn.regies.models import (
    EntrySource,
    InvoiceStatus,
    PayerKind,
    PaymentMode,
    receipt_label,
)
from opsn.regies.typesetting import typeset

TEMPLATE = str(Path(__file__).resolve().parent / "typst" / "personal-data.typ")

LABELS = {name: dict(choices.choices) for name, choices in (
    ("kind", PayerKind), ("status", InvoiceStatus), ("mode", PaymentMode),
    ("source", EntrySource), ("state", PaymentState), ("method", LinkMethod),
    ("mandate_kind", MandateKind), ("mandate_status", MandateStatus))}


def _label(field: str, value) -> str:
    return str(LABELS[field].get(value, value or ""))


def _day(value: str | None) -> str:
    return datetime.date.fromisoformat(value).strftime("%d/%m/%Y") if value else ""


def _moment(value: str | None) -> str:
    if not value:
        return ""
    moment = datetime.datetime.fromisoformat(value)
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%d/%m/%Y à %H:%M")


def _euros(value: str | None) -> str:
    return euros(Decimal(value)) if value else ""


def _number(value: str | None) -> str:
    try:
        number = Decimal(value or "")
    except InvalidOperation:
        return str(value or "")
    return f"{number.normalize():f}".replace(".", ",")


def _text(value) -> str:
    return "" if value is None else str(value)


def _heading(level: int, text: str) -> dict:
    return {"kind": "heading", "level": level, "text": text}


def _pairs(rows: list[tuple[str, str]]) -> dict:
    return {"kind": "pairs", "rows": [[label, value or "—"] for label, value in rows]}


def _table(columns: list[str], rows: list[list[str]], empty: str) -> dict:
    return {"kind": "table", "columns": columns, "rows": rows, "empty": empty}


def record_blocks(record: dict, level: int) -> list[dict]:
    """One payer record and all that hangs on it (``personal_data.payer_record``)."""
    payer, regie = record["payer"], record["regie"]
    invoices = record["invoices"]
    return [
        _heading(level, f"Dossier « {payer['name']} » — régie n° {regie['number']} "
                        f"({regie['name']})"),
        _pairs([("Nom", payer["name"]), ("Type", _label("kind", payer["kind"])),
                ("Adresse", payer["address_line"]),
                ("Code postal et ville", f"{payer['postal_code']} {payer['city']}".strip()),
                ("Courriel", payer["email"]), ("Téléphone", payer["phone"]),
                ("Référence du logiciel métier", payer["external_ref"]),
                ("Code de rattachement", payer["link_code"]),
                ("Dossier créé le", _moment(payer["created_at"]))]),
        _heading(level + 1, "Factures"),
        _table(["Numéro", "Objet", "Émise le", "À payer avant le", "Montant", "Payé", "État"],
               [[i["number"], i["label"], _day(i["issued_on"]), _day(i["due_on"]),
                 _euros(i["total"]), _euros(i["amount_paid"]), _label("status", i["status"])]
                for i in invoices], "Aucune facture."),
        _heading(level + 1, "Lignes des factures"),
        _table(["Facture", "Prestation", "Quantité", "Prix unitaire", "Montant", "Période",
                "Bénéficiaire"],
               [[i["number"], line["label"], _number(line["quantity"]),
                 _euros(line["unit_price"]), _euros(line["amount"]),
                 " au ".join(filter(None, (_day(line["period_start"]),
                                           _day(line["period_end"])))),
                 _text(line["beneficiary"])]
                for i in invoices for line in i["lines"]], "Aucune ligne."),
        _heading(level + 1, "Paiements"),
        _table(["Quittance", "Date", "Montant", "Mode", "Au nom de", "Origine", "Annulation"],
               [[receipt_label(p["year"], p["receipt_number"]), _day(p["dated_on"]),
                 _euros(p["amount"]),
                 _label("mode", p["mode"]), p["payer_name"], _label("source", p["source"]),
                 (p["reason"] or "oui") if p["is_reversal"] else ""]
                for p in record["payments"]], "Aucun paiement."),
        _heading(level + 1, "Paiements en ligne"),
        _table(["Commencé le", "Référence", "Montant", "Courriel", "État"],
               [[_moment(o["created_at"]), o["refdet"], format_cents(o["amount_cents"]),
                 o["email"], _label("state", o["state"])]
                for o in record["online_payments"]], "Aucun paiement en ligne."),
        _heading(level + 1, "Mandats de prélèvement"),
        _table(["RUM", "Débiteur", "IBAN", "BIC", "Signé le", "Type", "État",
                "Dernier prélèvement"],
               [[m["rum"], m["debtor_name"], m["iban"], m["bic"], _day(m["signed_on"]),
                 _label("mandate_kind", m["kind"]), _label("mandate_status", m["status"]),
                 _day(m["last_collected_on"])]
                for m in record["direct_debit_mandates"]], "Aucun mandat."),
    ]


def _commune_blocks(commune: dict) -> list[dict]:
    blocks = [_heading(2, f"{commune['commune']} (code INSEE {commune['insee_code']})"),
              {"kind": "text", "text": f"Responsable du traitement : {commune['controller']}."}]
    for record in commune["payer_records"]:
        blocks += record_blocks(record, 3)
    return blocks


INTRO = ("Droit d'accès (RGPD, article 15) : ce document reprend tout ce que la plateforme "
         "conserve sur {whom} ; le même contenu existe au format JSON. Les montants, les "
         "factures, les paiements et les quittances sont des pièces comptables conservées "
         "dix ans ; les coordonnées peuvent être rectifiées ou effacées sur demande auprès "
         "de la commune.")


def citizen_pdf(document: dict) -> bytes:
    """The citizen's export (``personal_data.personal_data``) as a PDF."""
    account = document["account"]
    blocks = [
        _heading(1, "Mes données personnelles"),
        {"kind": "text", "text": f"Document produit le {_moment(document['produced_at'])}."},
        {"kind": "text", "text": INTRO.format(whom="vous, dans toutes les communes")},
        _heading(2, "Mon compte"),
        _pairs([("Nom", account["name"]), ("Courriel", account["email"]),
                ("Identifiant", account["subject"]),
                ("Compte créé le", _moment(account["joined_at"])),
                ("Dernière connexion", _moment(account["last_sign_in"]))]),
        _heading(2, "Mes rattachements"),
        _table(["Commune", "Dossier", "Rattaché par", "Le", "Retiré le"],
               [[link["commune"], link["payer_name"], _label("method", link["method"]),
                 _moment(link["linked_at"]), _moment(link["unlinked_at"])]
                for link in document["links"]], "Aucun rattachement."),
    ]
    for commune in document["communes"]:
        blocks += _commune_blocks(commune)
    return typeset(TEMPLATE, {"title": "Mes données personnelles",
                              "author": account["name"] or account["email"] or "",
                              "blocks": blocks})


def payer_pdf(document: dict, *, commune: str) -> bytes:
    """The export an agent produces for one payer record (``payer_data_export``)."""
    blocks = [
        _heading(1, f"Données personnelles du dossier « {document['payer']['name']} »"),
        {"kind": "text", "text": f"Document produit le {_moment(document['produced_at'])} "
                                 f"par {document['produced_by']}, commune de {commune}."},
        {"kind": "text", "text": INTRO.format(whom="ce dossier")},
        *record_blocks(document, 2),
    ]
    return typeset(TEMPLATE, {"title": f"Données personnelles — {document['payer']['name']}",
                              "author": f"commune de {commune}", "blocks": blocks})
