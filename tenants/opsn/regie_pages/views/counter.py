"""The counter (guichet): find the payer, tick what they pay, take the money, hand the
receipt. And the receipt itself: printable, as a PDF, cancellable by a reversal."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from opsn.accounts.auth import account_id, actor_of, commune_role_required
from opsn.kernel.money import line_amount, parse_amount, parse_quantity
from opsn.online_payments.selectors import LABELS as ONLINE_LABELS
from opsn.online_payments.selectors import in_flight
from opsn.regie_pages.forms import CounterForm, ReversalForm, modes_of
from opsn.regie_pages.views.common import (
    AGENT_ROLES,
    amount_input,
    attach,
    download,
    page,
    regie_of,
    status_of,
)
from opsn.regies import permissions, selectors
from opsn.regies.documents import receipt_pdf
from opsn.regies.errors import RegieError
from opsn.regies.models import Invoice, LedgerEntry, Payer, Regie
from opsn.regies.services.mailing import receipt_email
from opsn.regies.services.payments import (
    REQUIRED_DETAILS,
    credit_of,
    payment_record,
    payment_reverse,
)
from opsn.regies.words import amount_in_words

ZERO = Decimal("0.00")


def _payer_and_invoices(request: HttpRequest, regie: Regie, q: str):
    """The payer chosen (by id, or the only one the search found) and their open
    invoices; on a POST also the invoices ticked that were paid meanwhile, so the domain
    says so rather than the form."""
    source = request.POST if request.method == "POST" else request.GET
    results: list[Payer] = []
    payer = None
    if source.get("payer"):
        try:
            payer = Payer.objects.get(regie=regie, pk=int(source["payer"]))
        except (ValueError, Payer.DoesNotExist):
            raise Http404("Aucun payeur de ce numéro dans la régie.") from None
    elif q:
        results = list(selectors.payers_search(regie, q))
        # The only match opens at once; a posted form pays only the payer it names.
        if len(results) == 1 and request.method == "GET":
            payer = results[0]
    invoices: list[Invoice] = []
    if payer is not None:
        invoices = list(selectors.open_invoices(payer).filter(regie=regie))
        if request.method == "POST":
            ticked = [v for v in request.POST.getlist("invoices") if v.isdigit()]
            invoices += list(Invoice.objects.filter(payer=payer, pk__in=ticked)
                             .exclude(pk__in=[i.pk for i in invoices]))
    return payer, results, invoices


def _initial(regie: Regie, payer: Payer | None, invoices: list[Invoice], q: str) -> dict:
    # The invoice searched by its number is the one paid; otherwise all that is due.
    matched = [i for i in invoices if i.number.lower() == q.lower()]
    ticked = matched or invoices
    owed = sum((i.remaining for i in ticked), ZERO)
    return {"payer": payer.pk if payer else None, "invoices": [str(i.pk) for i in ticked],
            "mode": modes_of(regie)[0][0] if regie.accepted_modes else None, "quantity": "1",
            "amount": amount_input(owed) if owed else "",
            **{f"alloc_{i.pk}": amount_input(i.remaining) for i in invoices}}


def _record(request: HttpRequest, regie: Regie, form: CounterForm,
            payer: Payer | None) -> LedgerEntry:
    data = form.cleaned_data
    mode = data["mode"]
    chosen = [i for i in form.open_invoices if str(i.pk) in data["invoices"]]
    allocations = {i.number: (data[f"alloc_{i.pk}"].strip() or amount_input(i.remaining))
                   for i in chosen}
    product = form.products.get(data["product"] or "")
    quantity = (data["quantity"] or "").strip() or "1"
    amount = (data["amount"] or "").strip()
    if not amount:
        # Left empty: what was ticked and sold (the agent did not change it).
        total = sum((parse_amount(value, field=f"alloc_{i.pk}", error=RegieError)
                     for i, value in zip(chosen, allocations.values(), strict=True)), ZERO)
        if product is not None:
            total += line_amount(parse_quantity(quantity, error=RegieError), product.unit_price)
        if not total:
            raise RegieError("Indiquez le montant reçu.", field="amount")
        amount = str(total)
    return payment_record(
        regie=regie, actor=actor_of(request), amount=amount, mode=mode, payer=payer,
        payer_name=data["payer_name"], invoices=chosen, allocations=allocations or None,
        sales=[(product, quantity)] if product else [],
        details={key: data[key] for key in REQUIRED_DETAILS.get(mode, {})})


@commune_role_required(*AGENT_ROLES)
@require_http_methods(["GET", "POST"])
def counter(request: HttpRequest, number: str) -> HttpResponse:
    regie = regie_of(request, number)
    q = (request.GET.get("q") or request.POST.get("q") or "").strip()
    payer, results, invoices = _payer_and_invoices(request, regie, q)
    # An invoice with an online payment in flight is offered no other payment.
    flight = in_flight(i.pk for i in invoices)
    online = [(i, ONLINE_LABELS[flight[i.pk]]) for i in invoices if i.pk in flight]
    invoices = [i for i in invoices if i.pk not in flight]
    status = 200
    if request.method == "POST":
        form = CounterForm(request.POST, regie=regie, invoices=invoices)
        ticked = set(request.POST.getlist("invoices"))
        if doubled := [(i, label) for i, label in online if str(i.pk) in ticked]:
            invoice, label = doubled[0]
            form.is_valid()
            form.add_error("invoices", f"La facture {invoice.number} a un {label} : elle ne "
                                       "se paie pas une seconde fois.")
            status = 409
        elif form.is_valid():
            try:
                entry = _record(request, regie, form, payer)
            except RegieError as exc:
                # The domain names the input at fault; some are shown on a neighbour.
                attach(form, exc, {"allocations": "invoices", "sales": "product",
                                   "payer": "payer_name" if payer is None else ""})
                status = status_of(exc)
            else:
                messages.success(request, f"Quittance {entry.receipt} enregistrée : "
                                          f"{amount_input(entry.amount)} € "
                                          f"({entry.get_mode_display()}).")
                return redirect("regie_pages:receipt", regie.number, entry.year,
                                entry.receipt_number)
        else:
            status = 400
    else:
        form = CounterForm(initial=_initial(regie, payer, invoices, q), regie=regie,
                           invoices=invoices)
    today = timezone.localdate()
    return page(request, "regie_pages/counter.html", {
        "form": form, "q": q, "payer": payer, "results": results, "online": online,
        "credit": credit_of(payer) if payer else None,
        "warnings": selectors.warnings(regie),
        "in_hand": selectors.held_in_hand(regie),
        "may_collect": permissions.may_collect(regie, account_id(request), today),
        "open": regie.is_open_on(today),
    }, status=status, regie=regie, section="counter")


def _entry(regie: Regie, year: int, receipt: int) -> LedgerEntry:
    return get_object_or_404(LedgerEntry.objects.select_related("regie", "payer", "reverses"),
                             regie=regie, year=year, receipt_number=receipt)


def _receipt_page(request: HttpRequest, regie: Regie, entry: LedgerEntry, *,
                  reversal_form: ReversalForm | None = None, status: int = 200,
                  mail_error: str = "") -> HttpResponse:
    return page(request, "regie_pages/receipt.html", {
        "entry": entry, "words": amount_in_words(entry.amount),
        "allocations": entry.allocations.select_related("invoice", "product"),
        "reversal": LedgerEntry.objects.filter(reverses=entry).first(),
        "reversal_form": reversal_form or ReversalForm(),
        "details": sorted(entry.details.items()),
        "mail_error": mail_error,
        "mail_to": request.POST.get("to") or (entry.payer.email if entry.payer else ""),
    }, status=status, regie=regie, section="journal")


@commune_role_required(*AGENT_ROLES)
def receipt(request: HttpRequest, number: str, year: int, receipt: int) -> HttpResponse:
    regie = regie_of(request, number)
    return _receipt_page(request, regie, _entry(regie, year, receipt))


@commune_role_required(*AGENT_ROLES)
def receipt_download(request: HttpRequest, number: str, year: int,
                     receipt: int) -> HttpResponse:
    regie = regie_of(request, number)
    entry = _entry(regie, year, receipt)
    return download(receipt_pdf(entry), f"quittance-{regie.number}-{entry.receipt}.pdf",
                    "application/pdf")


@commune_role_required(*AGENT_ROLES)
@require_POST
def receipt_reverse(request: HttpRequest, number: str, year: int,
                    receipt: int) -> HttpResponse:
    regie = regie_of(request, number)
    entry = _entry(regie, year, receipt)
    form = ReversalForm(request.POST)
    form.is_valid()
    try:
        reversal = payment_reverse(entry=entry, actor=actor_of(request),
                                   reason=form.cleaned_data.get("reason", ""))
    except RegieError as exc:
        attach(form, exc)
        return _receipt_page(request, regie, entry, reversal_form=form, status=status_of(exc))
    messages.success(request, f"Quittance {entry.receipt} annulée par la quittance "
                              f"{reversal.receipt}.")
    return redirect("regie_pages:receipt", regie.number, reversal.year, reversal.receipt_number)


@commune_role_required(*AGENT_ROLES)
@require_POST
def receipt_send(request: HttpRequest, number: str, year: int, receipt: int) -> HttpResponse:
    regie = regie_of(request, number)
    entry = _entry(regie, year, receipt)
    to = (request.POST.get("to") or "").strip() or None
    try:
        address = receipt_email(entry=entry, actor=actor_of(request), to=to)
    except RegieError as exc:
        return _receipt_page(request, regie, entry, mail_error=exc.message,
                             status=status_of(exc))
    messages.success(request, f"Quittance {entry.receipt} envoyée par courriel à {address}.")
    return redirect("regie_pages:receipt", regie.number, entry.year, entry.receipt_number)
