"""The mandate's wording, as the SEPA Core rulebook gives it in French (EPC016, the
mandate's mandatory text). The one home of this text: the citizen's page shows it, the
signed mandate's PDF prints it, the signature keeps what was accepted."""

from __future__ import annotations

TITLE = "Mandat de prélèvement SEPA"


def mandate_text(creditor_name: str) -> list[str]:
    """The paragraphs the debtor accepts, with the creditor's name."""
    return [
        f"En signant ce formulaire de mandat, vous autorisez {creditor_name} à envoyer des "
        "instructions à votre banque pour débiter votre compte, et votre banque à débiter "
        f"votre compte conformément aux instructions de {creditor_name}.",
        "Vous bénéficiez du droit d'être remboursé par votre banque selon les conditions "
        "décrites dans la convention que vous avez passée avec elle. Une demande de "
        "remboursement doit être présentée dans les 8 semaines suivant la date de débit de "
        "votre compte pour un prélèvement autorisé.",
        "Vos droits concernant le présent mandat sont expliqués dans un document que vous "
        "pouvez obtenir auprès de votre banque.",
    ]


def kind_text(kind: str) -> str:
    return ("Paiement ponctuel : un seul prélèvement." if kind == "one_off" else
            "Paiement récurrent (répétitif) : chaque facture de la régie est prélevée à son "
            "échéance, après un avis de prélèvement.")
