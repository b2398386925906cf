"""Handing unpaid invoices over to the public accountant: the invoices of a régie past due
before a day and not handed over yet become the titres de recettes of one bordereau (one
titre per invoice, numbered gaplessly per budget and year), written as a PES V2
« PES_Aller » file kept with the hand-over. All or nothing; each invoice once."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Max
from django.utils import timezone

from opsn.agents.models import Role
from opsn.agents.selectors import roles_of
from opsn.audit import events
from opsn.audit.services import record
from opsn.finance import pes
from opsn.finance.errors import FinanceError
from opsn.finance.models import Budget, HandedOverInvoice, UnpaidHandover
from opsn.finance.selectors import contested, handed_over_of, principal_budget
from opsn.kernel.actors import Actor
from opsn.kernel.money import euros
from opsn.kernel.tenancy import atomic
from opsn.regies.models import OWED_STATUSES, Invoice, InvoiceLine, InvoiceStatus, Regie
from opsn.regies.permissions import require_keeper
from opsn.regies.selectors import payments_held

ZERO = Decimal("0.00")


@dataclass
class Preview:
    """What a hand-over would take: the invoices (oldest due date first), their count and
    what they still owe."""

    budget: Budget
    invoices: list[Invoice]

    @property
    def count(self) -> int:
        return len(self.invoices)

    @property
    def total(self) -> Decimal:
        return sum((i.total - i.amount_paid for i in self.invoices), ZERO)


def budget_of(regie: Regie) -> Budget:
    budget = regie.budget if regie.budget_id else principal_budget()
    if budget is None:
        raise FinanceError(f"La régie {regie.name} ne collecte pour aucun budget : décrivez le "
                           "budget principal de la commune (Mes régies → Budgets : SIRET, "
                           "code collectivité, code budget, poste comptable) avant de "
                           "transmettre.", field="budget")
    # A budget's codes are checked when it is saved; one kept before a field was required
    # (or altered in the database) is refused here by name rather than written blank.
    for field, label in (("siret", "SIRET"), ("collectivity_code", "code collectivité (CodCol)"),
                         ("budget_code", "code budget (CodBud)"),
                         ("post_code", "code de poste comptable (IdPost)"),
                         ("post_name", "nom de poste comptable (LibellePoste)")):
        if not (getattr(budget, field) or "").strip():
            raise FinanceError(f"Le budget « {budget.name} » n'a pas de {label} : complétez-le "
                               "(Mes régies → Budgets) avant de transmettre.", field=field)
    return budget


def _check_day(due_before) -> datetime.date:
    if not isinstance(due_before, datetime.date):
        raise FinanceError("Donnez la date : les factures échues avant ce jour sont "
                           "transmises.", field="due_before")
    return due_before


def _check_min_amount(min_amount) -> Decimal | None:
    if min_amount in (None, ""):
        return None
    try:
        value = Decimal(str(min_amount).strip().replace(",", "."))
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0 or value > Decimal("9999999999.99") \
            or value != value.quantize(Decimal("0.01")):
        raise FinanceError(f"« {str(min_amount)[:30]} » n'est pas un montant minimum : un "
                           "nombre d'euros positif, deux décimales au plus (par exemple "
                           "15.00).", field="min_amount")
    return value


def _explicit(regie: Regie, numbers: list[str], day: datetime.date) -> list[Invoice]:
    """The invoices named, each checked: of this régie, still owed, past due on ``day``,
    not handed over yet. The first that is not is named in the refusal."""
    wanted = [n.strip() for n in numbers if n and n.strip()]
    if not wanted:
        raise FinanceError("Donnez au moins un numéro de facture.", field="invoices")
    if len(wanted) > 50_000 or any(len(n) > 30 or "\x00" in n for n in wanted):
        raise FinanceError("Des numéros de facture ont plus de 30 caractères (ou sont trop "
                           "nombreux : 50 000 au plus).", field="invoices")
    if len(set(wanted)) != len(wanted):
        twice = next(n for n in wanted if wanted.count(n) > 1)
        raise FinanceError(f"La facture {twice} est nommée deux fois.", field="invoices")
    found = {i.number: i for i in Invoice.objects.filter(regie=regie, number__in=wanted)
             .select_related("payer", "handed_over__handover")
             .annotate(is_contested=contested())}
    held = payments_held([i.pk for i in found.values()])
    owed = set(Invoice.objects.filter(pk__in=[i.pk for i in found.values()])
               .past_due(day).values_list("pk", flat=True))
    for number in wanted:
        invoice = found.get(number)
        if invoice is None:
            raise FinanceError(f"La régie {regie.name} n'a pas de facture {number[:30]}.",
                               field="invoices")
        if handed_over_of(invoice) is not None:
            raise FinanceError(f"La facture {number} est déjà transmise au comptable public "
                               f"({invoice.handed_over.handover}).", field="invoices")
        if invoice.is_contested:
            raise FinanceError(f"La facture {number} est contestée par le payeur : elle ne "
                               "peut pas être transmise tant que la contestation dure (levez-"
                               "la sur la page de la facture).", field="invoices")
        if invoice.pk in held:
            raise FinanceError(f"La facture {number} ne peut pas être transmise : "
                               f"{held[invoice.pk]}.", field="invoices")
        if invoice.pk not in owed:
            why = (InvoiceStatus(invoice.status).label if invoice.status not in OWED_STATUSES
                   else f"à payer avant le {invoice.due_on:%d/%m/%Y}, pas encore échue")
            raise FinanceError(f"La facture {number} ne peut pas être transmise : elle est "
                               f"{why}.", field="invoices")
    ordered = Invoice.objects.filter(pk__in=owed).past_due(day).select_related("payer")
    return list(ordered.order_by("due_on", "number"))


def handover_preview(*, regie: Regie, due_before: datetime.date | None,
                     min_amount=None, invoices: list[str] | None = None) -> Preview:
    """The invoices a hand-over would take: those named (``invoices``, each checked), or
    those past due before ``due_before`` (``Invoice.objects.past_due``: still to pay, due
    date passed) still owing at least ``min_amount`` — less those already handed over, those
    the payer contests and those a SEPA debit is paying."""
    least = _check_min_amount(min_amount)
    if invoices is not None:
        chosen = _explicit(regie, invoices, due_before or timezone.localdate())
    else:
        day = _check_day(due_before)
        found = (Invoice.objects.filter(regie=regie, handed_over__isnull=True).past_due(day)
                 .filter(~contested()).select_related("payer"))
        if least is not None:
            found = found.filter(owed__gte=least)
        chosen = list(found.order_by("due_on", "number"))
        # An invoice a SEPA debit holds is being paid: it waits for the bank's answer.
        held = payments_held([i.pk for i in chosen])
        chosen = [i for i in chosen if i.pk not in held]
    if least is not None and invoices is not None:
        chosen = [i for i in chosen if i.total - i.amount_paid >= least]
    return Preview(budget_of(regie), chosen)


def _titre(piece: int, invoice: Invoice, lines: list[InvoiceLine]) -> pes.Titre:
    """The invoice's titre: its lines grouped by imputation, each carrying what remains of
    it once what was paid is taken from the lines in their order."""
    paid = invoice.amount_paid
    grouped: dict[tuple[str, str], Decimal] = {}
    labels: dict[tuple[str, str], str] = {}
    for line in lines:
        taken = min(paid, line.amount)
        paid -= taken
        left = line.amount - taken
        if left > 0:
            key = (line.nature, line.fonction)
            grouped[key] = grouped.get(key, ZERO) + left
            labels.setdefault(key, line.label)
    payer = invoice.payer
    debtor = pes.Debtor(reference=payer.external_ref or f"P{payer.pk}", kind=payer.kind,
                        name=payer.name, address=payer.address_line,
                        postal_code=payer.postal_code, city=payer.city)
    label = f"Facture {invoice.number}" + (f" {invoice.label}" if invoice.label else "")
    return pes.Titre(piece=piece, invoice_number=invoice.number, label=label, debtor=debtor,
                     lines=[pes.Line(label=labels[k], nature=k[0], fonction=k[1], amount=v)
                            for k, v in grouped.items()])


def _refuse_missing(invoices: list[Invoice], lines: dict[int, list[InvoiceLine]]) -> None:
    missing: dict[str, list[str]] = {}
    for invoice in invoices:
        for line in lines.get(invoice.pk, []):
            if not line.nature:
                what = line.product.name if line.product else f"« {line.label} » (sans produit)"
                missing.setdefault(what, []).append(invoice.number)
    if missing:
        listed = " ; ".join(f"{what} (factures {', '.join(sorted(set(nums))[:5])}"
                            f"{'…' if len(set(nums)) > 5 else ''})"
                            for what, nums in sorted(missing.items()))
        raise FinanceError("Des lignes de facture n'ont pas d'imputation M57 : rien n'est "
                           "transmis. Imputez ces produits (ou la régie par défaut) puis "
                           f"émettez de nouvelles factures si besoin : {listed}.",
                           field="imputation")
    for invoice in invoices:
        if not invoice.payer.name.strip():
            raise FinanceError(f"La facture {invoice.number} n'a pas de débiteur nommé.",
                               field="payer")


@atomic
def handover_create(*, regie: Regie, due_before: datetime.date | None, actor: Actor,
                    day: datetime.date | None = None, min_amount=None,
                    invoices: list[str] | None = None) -> UnpaidHandover:
    """Hand over the unpaid invoices of ``regie`` due before ``due_before``: a bordereau,
    one titre per invoice, the PES file. By the administrator, the finance staff or the
    régie's titulaire (its suppléant standing in). The régie's row is locked (its counter waits),
    then the budget's (the bordereau number)."""
    if actor.kind != "system" and not roles_of(actor.account) & {Role.ADMINISTRATOR,
                                                                   Role.FINANCE}:
        require_keeper(regie, actor, timezone.localdate(),
                       "transmettre des impayés au comptable public (ou l'administrateur, le "
                       "service financier)")
    regie = Regie.objects.select_for_update().get(pk=regie.pk)
    # A new version of the régie's row: a counter payment checked before this commits and
    # posted after (the short way, ``regies_post_payments``, compares the row's version)
    # goes the long way instead, and sees the invoices handed over.
    Regie.objects.filter(pk=regie.pk).update(number=F("number"))
    if invoices is not None and due_before is None:
        due_before = day or timezone.localdate()
    preview = handover_preview(regie=regie, due_before=due_before, min_amount=min_amount,
                               invoices=invoices)
    due_before = _check_day(due_before)
    budget = Budget.objects.select_for_update().get(pk=preview.budget.pk)
    if not preview.invoices:
        least = _check_min_amount(min_amount)
        above = f" et d'au moins {euros(least)}" if least is not None else ""
        raise FinanceError(f"Aucune facture de la régie {regie.name} à transmettre : aucune "
                           f"n'est impayée avec une échéance avant le "
                           f"{due_before:%d/%m/%Y}{above} (ou elles sont déjà "
                           "transmises).", field="due_before")
    lines: dict[int, list[InvoiceLine]] = {}
    for line in (InvoiceLine.objects.filter(invoice__in=[i.pk for i in preview.invoices])
                 .select_related("product").order_by("invoice", "id")):
        lines.setdefault(line.invoice_id, []).append(line)
    _refuse_missing(preview.invoices, lines)
    day = day or timezone.localdate()
    year = day.year
    number = (UnpaidHandover.objects.filter(budget=budget, year=year)
              .aggregate(n=Max("number"))["n"] or 0) + 1
    titres = [_titre(piece, invoice, lines.get(invoice.pk, []))
              for piece, invoice in enumerate(preview.invoices, start=1)]
    for titre, invoice in zip(titres, preview.invoices, strict=True):
        if titre.total != invoice.total - invoice.amount_paid:  # never: lines sum to total
            raise FinanceError(f"La facture {invoice.number} : ses lignes ({euros(titre.total)})"
                               f" ne font pas son reste dû ({euros(invoice.remaining)}).",
                               field="invoices")
    total = sum((t.total for t in titres), ZERO)
    file_name = (f"PES_{budget.collectivity_code}{budget.budget_code}_{year}_"
                 f"{number:05d}.xml")
    header = pes.Header(post_code=budget.post_code, post_name=budget.post_name,
                        siret=budget.siret, collectivity_code=budget.collectivity_code,
                        budget_code=budget.budget_code, budget_name=budget.name,
                        sender_code=budget.sender_code, sender_address=budget.sender_address)
    data = pes.pes_aller(header=header, year=year, bordereau=number, day=day,
                         file_name=file_name,
                         objet=f"Impayés de la régie {regie.name} échus avant le "
                               f"{due_before:%d/%m/%Y}", titres=titres)
    handover = UnpaidHandover.objects.create(
        budget=budget, regie=regie, year=year, number=number, due_before=due_before,
        count=len(titres), total=total, file_name=file_name, file=data,
        sha256=hashlib.sha256(data).hexdigest(), created_by=actor.account[:254])
    HandedOverInvoice.objects.bulk_create(
        HandedOverInvoice(handover=handover, invoice=invoice, piece=titre.piece,
                          amount=titre.total)
        for titre, invoice in zip(titres, preview.invoices, strict=True))
    record(actor, events.UnpaidHandedOver(target=f"handover:{handover.pk}", data={
        "number": number, "year": year, "budget": budget.name, "count": handover.count,
        "regie": regie.number, "due_before": f"{due_before:%d/%m/%Y}",
        "total": euros(total).removesuffix(" €"), "file_name": file_name,
        "sha256": handover.sha256}))
    return handover
