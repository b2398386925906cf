"""The PES V2 « PES_Aller » file of a deposit: one bordereau holding the deposit's titre de
régularisation — one titre (``Piece``), one line (``LigneDePiece``) per imputation (nature,
fonction), the amounts of ``deposit_regularisation`` — written by the same writer as a
hand-over's (``opsn.finance.pes``). Built when asked, never stored: the deposit is fixed
once made, so the same deposit gives the same bytes.

Choices (docs/decisions/0018-pes-v2.md, « Deposit files », all unverified against the
DGFiP's schemas): the titre is an ordinary one (TypBord/TypPce 01) whose object says it
regularises the deposit; its one debtor (``Tiers``, which the structure requires on each
line) is the régie itself; the bordereau number is the deposit's number in its year."""

from __future__ import annotations

import re

from django.utils import timezone

from opsn.finance import pes
from opsn.finance.errors import FinanceError
from opsn.finance.handover import budget_of
from opsn.finance.regularisation import deposit_regularisation
from opsn.kernel.money import euros
from opsn.regies.models import Deposit


def deposit_file_name(deposit: Deposit) -> str:
    budget = budget_of(deposit.regie)
    return (f"PES_{budget.collectivity_code}{budget.budget_code}_{deposit.year}_"
            f"REG{re.sub('[^0-9A-Za-z]', '', deposit.regie.number)}_{deposit.number:05d}.xml")


def deposit_pes(deposit: Deposit) -> tuple[str, bytes]:
    """The file's name and bytes; refused in French when the deposit has nothing a titre
    may carry (no amount, an amount not imputed, an imputation that took back more than it
    brought)."""
    regie = deposit.regie
    budget = budget_of(regie)
    regularisation = deposit_regularisation(deposit)
    if not regularisation.lines:
        raise FinanceError(f"Le {deposit} de la régie {regie.name} n'a aucun montant : rien à "
                           "exporter en PES.", field="deposit")
    if regularisation.unimputed:
        raise FinanceError(f"Le {deposit} de la régie {regie.name} a "
                           f"{euros(regularisation.unimputed)} non affectés (crédit des "
                           "payeurs, lignes sans imputation M57) : un titre ne porte que des "
                           "montants imputés. Rien n'est exporté ; la régularisation en CSV "
                           "montre le détail.", field="deposit")
    negative = [line for line in regularisation.lines if line.amount <= 0]
    if negative:
        listed = ", ".join(f"{line.nature}/{line.fonction or '-'} ({euros(line.amount)})"
                           for line in negative)
        raise FinanceError(f"Le {deposit} de la régie {regie.name} a des imputations négatives "
                           f"(des remboursements) : {listed}. Un titre n'a que des lignes "
                           "positives ; rien n'est exporté.", field="deposit")
    debtor = pes.Debtor(reference=f"REG{regie.number}"[:15], kind="organisation",
                        name=f"Régie {regie.name}", address="", postal_code="", city="")
    titre = pes.Titre(
        piece=1, invoice_number=deposit.slip,
        label=f"Régularisation du versement {deposit.slip} de la régie {regie.name}",
        debtor=debtor,
        lines=[pes.Line(label=(line.nature_label or f"Compte {line.nature}"),
                        nature=line.nature, fonction=line.fonction, amount=line.amount)
               for line in regularisation.lines])
    if titre.total != deposit.total:  # never: the régularisation adds up to the deposit
        raise FinanceError(f"Le {deposit} : sa régularisation ({euros(titre.total)}) ne fait "
                           f"pas son total ({euros(deposit.total)}).", field="deposit")
    header = pes.Header(post_code=budget.post_code, post_name=budget.post_name,
                        siret=budget.siret, collectivity_code=budget.collectivity_code,
                        budget_code=budget.budget_code, budget_name=budget.name,
                        sender_code=budget.sender_code, sender_address=budget.sender_address)
    name = deposit_file_name(deposit)
    data = pes.pes_aller(header=header, year=deposit.year, bordereau=deposit.number,
                         day=timezone.localdate(deposit.made_at), file_name=name,
                         objet=f"Régularisation du versement {deposit.slip} de la régie "
                               f"{regie.name}", titres=[titre])
    return name, data
