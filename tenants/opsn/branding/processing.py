"""The processing activities the platform performs for a commune (RGPD art. 30): one home
for what the privacy notice says (purposes, data, legal bases, retention, recipients) and
for the commune's register of processing activities, exported as CSV, OpenDocument (ODS)
and JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import tablib

from opsn.branding.notices import Notices


@dataclass(frozen=True)
class Processing:
    key: str
    name: str
    purpose: str
    persons: str
    data: str
    legal_basis: str
    retention: str
    recipients: str


SECURITY = ("hébergement par l'opérateur ; un schéma de base de données par commune ; "
            "connexion OpenID Connect, double authentification des agents ; droits par rôle "
            "et par régie ; journal d'audit des actions des agents ; journal des paiements "
            "chaîné (empreintes) ; chiffrement des échanges (HTTPS) ; sauvegardes")

ACTIVITIES = (
    Processing(
        "regies", "Régies de recettes",
        "Encaisser les recettes des régies : factures, paiements, quittances, versements au "
        "comptable public",
        "payeurs (usagers des services municipaux)",
        "nom, adresse, courriel, téléphone du payeur ; montants, dates, modes de paiement",
        "mission d'intérêt public et obligation légale (article 6.1.e et 6.1.c ; décret "
        "n° 2012-1246 relatif à la gestion budgétaire et comptable publique)",
        "dix ans pour les pièces comptables (montants, quittances, journal) ; les "
        "coordonnées du payeur effacées et son nom pseudonymisé {years} ans après sa "
        "dernière facture ou son dernier paiement (sauf dossier rattaché à un compte "
        "« Mes paiements » ou facture impayée)",
        "agents habilités de la commune ; comptable public (DGFiP)"),
    Processing(
        "espace_citoyen", "Espace « Mes paiements »",
        "Voir et payer ses factures, rattacher ses dossiers de payeur",
        "usagers ayant un compte",
        "identifiant de connexion, nom, courriel ; rattachements aux dossiers de payeur",
        "mission d'intérêt public (article 6.1.e)",
        "tant que le compte existe ; l'historique des rattachements, dix ans",
        "l'usager lui-même ; fournisseur d'identité (FranceConnect)"),
    Processing(
        "paiement_en_ligne", "Paiement en ligne (PayFiP)",
        "Paiement en ligne (PayFiP, service de la DGFiP)",
        "payeurs qui paient en ligne",
        "montant, référence de la facture, courriel du payeur",
        "mission d'intérêt public (article 6.1.e)",
        "dix ans (pièces comptables)",
        "DGFiP (PayFiP) ; agents habilités de la commune"),
    Processing(
        "securite", "Sécurité",
        "Sécurité : journal des actions des agents, journaux techniques",
        "agents de la commune ; visiteurs du site",
        "compte de l'agent, action, date, adresse IP",
        "obligation légale et mission d'intérêt public (articles 6.1.c et 6.1.e)",
        "un an pour les journaux techniques ; le journal d'audit, avec les comptes de la "
        "régie",
        "administrateur de la commune ; l'opérateur (sous-traitant)"),
)



def activities(payer_retention_years: int) -> list[Processing]:
    """The activities with the commune's retention period written in."""
    return [replace(a, retention=a.retention.format(years=payer_retention_years))
            for a in ACTIVITIES]


COLUMNS = ("identifiant", "traitement", "finalite", "personnes_concernees",
           "categories_de_donnees", "base_legale", "duree_de_conservation", "destinataires",
           "responsable_de_traitement", "sous_traitant", "delegue_protection_donnees",
           "mesures_de_securite")


def register(notices: Notices) -> list[dict]:
    """The commune's register: each activity with who is responsible for it."""
    rows = []
    for activity in activities(notices.payer_retention_years):
        values = asdict(activity)
        rows.append(dict(zip(COLUMNS, (
            values["key"], values["name"], values["purpose"], values["persons"],
            values["data"], values["legal_basis"], values["retention"],
            f"{values['recipients']} ; {notices.processor.name} (sous-traitant)",
            f"{notices.publisher.name}, {notices.publisher.address}".rstrip(", "),
            f"{notices.processor.name}, {notices.processor.address}".rstrip(", "),
            notices.dpo_contact, SECURITY), strict=True)))
    return rows


def register_ods(rows: list[dict]) -> bytes:
    """The register as an OpenDocument spreadsheet (decision 0014: tablib, one sheet), the
    same columns as the CSV; every cell is text (no formula can be injected)."""
    sheet = tablib.Dataset(*[tuple(row[c] for c in COLUMNS) for row in rows],
                           headers=list(COLUMNS), title="Traitements")
    book = tablib.Databook()
    book.add_sheet(sheet)
    return book.export("ods")
