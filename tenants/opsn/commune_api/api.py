"""The commune's HTTP API for its business software: invoices and payments pushed into
its régies, with per-commune service credentials. Thin endpoints over
``regies.services``: what a payment must satisfy is decided there, for the counter and
the API alike.

Served under each commune's own domain (the routing middleware has already set the
commune's schema): a credential is looked up in that schema only, so the secret of one
commune is unknown under another's domain."""

from __future__ import annotations

import datetime

from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from ninja import File, NinjaAPI, Query, Status, UploadedFile
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from opsn.agents.services import service_actor, service_credential_authenticate
from opsn.commune_api import lookups
from opsn.commune_api.schemas import (
    CollectionIn,
    CollectionOut,
    ConfirmationIn,
    ConfirmationOut,
    ErrorOut,
    HandoverCancelIn,
    HandoverIn,
    HandoverOut,
    InvoiceOut,
    InvoicesIn,
    InvoicesOut,
    MandateAmendIn,
    MandateIn,
    MandateOut,
    MandateRevokeIn,
    OwedOut,
    PayerIn,
    PayerOut,
    PaymentOut,
    PaymentsIn,
    PaymentsOut,
    RegieOut,
    ReturnsOut,
    ReversalIn,
)
from opsn.direct_debit.booking import collection_confirm
from opsn.direct_debit.errors import DirectDebitError, DirectDebitNotFound
from opsn.direct_debit.models import Collection, DebitReturn, Mandate, MandateSource
from opsn.direct_debit.returns import returns_import
from opsn.direct_debit.selectors import collections_of
from opsn.direct_debit.services import collect, mandate_amend, mandate_record, mandate_revoke
from opsn.finance.acks import handover_cancel
from opsn.finance.deposit_pes import deposit_pes
from opsn.finance.errors import FinanceNotFound
from opsn.finance.handover import handover_create
from opsn.finance.models import UnpaidHandover
from opsn.kernel import api_errors
from opsn.kernel.actors import Actor
from opsn.kernel.addresses import client_ip
from opsn.kernel.api_errors import MALFORMED, NOT_AN_OBJECT, body_not_an_object
from opsn.kernel.errors import DomainError
from opsn.online_payments.selectors import in_flight
from opsn.regies.documents import receipt_pdf
from opsn.regies.errors import Duplicate, NotFound, RegieError
from opsn.regies.invoice_documents import invoice_pdf
from opsn.regies.models import AGE_BUCKETS, Deposit, EntrySource, InvoiceSource
from opsn.regies.owed import by_payer, past_due, summary
from opsn.regies.selectors import payers_search, regies_of
from opsn.regies.services.imports import import_size_check
from opsn.regies.services.invoicing import InvoiceDraft, invoices_issue, line_draft, payer_create
from opsn.regies.services.payments import PaymentDraft, payment_reverse, payments_post


class CommuneCredential(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        if getattr(request, "commune", None) is None:  # only under a commune's domain
            return None
        credential = service_credential_authenticate(token)
        if credential is not None:
            request.actor = service_actor(credential, ip=client_ip(request))  # type: ignore[attr-defined]
        return credential


api = NinjaAPI(
    title="opsn — API de la commune",
    version="1",
    description=(
        "Les logiciels métier de la commune (restauration scolaire, petite enfance, "
        "location de salles…) y publient leurs payeurs et leurs factures et y enregistrent "
        "les paiements qu'ils encaissent, avec leurs quittances, dans les régies où ils sont "
        "nommés mandataires. Authentification : `Authorization: Bearer opsn_c_…` (accès "
        "délivré par `opsn commune_api_credential`). Montants en texte (\"12.50\"). Erreurs : "
        "`{code, message, field, line}`."),
    auth=[CommuneCredential()],
    urls_namespace="commune_api",
)

ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
          422: ErrorOut}


def _error(request: HttpRequest, status: int, code: str, message: str, field=None, line=None):
    return api.create_response(request, {"code": code, "message": message, "field": field,
                                         "line": line}, status=status)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError):
    return _error(request, exc.http_status, exc.code, exc.message, exc.field,
                  getattr(exc, "line", None))


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError):
    return _error(request, 401, "unauthenticated",
                  "Accès refusé : présentez le secret de l'accès délivré à votre logiciel par "
                  "cette commune (en-tête « Authorization: Bearer opsn_c_… »). Un secret "
                  "révoqué, ou délivré par une autre commune, n'est pas reconnu ici.")


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError):
    if exc.status_code == 400:  # ninja could not read the body
        return _error(request, 400, "malformed", MALFORMED)
    return _error(request, exc.status_code, "error", str(exc))


BATCHES = ("payments", "invoices")


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError):
    """The first problem, in the error shape of the domain: ``field`` is its path inside
    the payment or invoice, ``line`` the position of that payment or invoice."""
    first = exc.errors[0]
    if body_not_an_object(first):
        return _error(request, 400, "malformed", NOT_AN_OBJECT)
    loc = [p for p in first.get("loc", ()) if not (isinstance(p, str) and "[" in p)]
    if loc[:1] in (["body"], ["query"], ["path"]):
        loc = loc[2:] if len(loc) > 1 and loc[1] in ("payload", "filters") else loc[1:]
    line = None
    if len(loc) >= 2 and loc[0] in BATCHES and isinstance(loc[1], int):
        line, loc = loc[1] + 1, loc[2:]
    problem = api_errors.problem(first)
    if len(loc) > 1 and loc[-1] in ("str", "int", "float"):
        # pydantic names the branch of the union an amount may be: name the amount
        loc, problem = loc[:-1], "doit être un montant en texte, par exemple « 12.50 »"
    field = ".".join(str(p) for p in loc) or None
    where = f"{field} : " if field else ""
    return _error(request, 422, "invalid", f"{where}{problem}.", field, line)


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined]


# --- Régies --------------------------------------------------------------------------------

@api.get("/regies", response=list[RegieOut], tags=["régies"])
def list_regies(request):
    """Les régies pour lesquelles ce logiciel encaisse aujourd'hui."""
    return [lookups.regie_out(r) for r in regies_of(_actor(request).account).order_by("number")]


# --- Payers --------------------------------------------------------------------------------

@api.post("/regies/{number}/payers", response={200: PayerOut, 201: PayerOut, **ERRORS},
          tags=["payeurs"])
def create_payer(request, number: str, payload: PayerIn):
    """Crée le payeur, ou renvoie (200) celui qui a déjà cette `external_ref`, inchangé :
    l'appel peut être répété sans créer de doublon."""
    regie = lookups.regie_for(_actor(request), number)
    ref = payload.external_ref.strip()
    if existing := lookups.payers_by_ref(regie, [ref]).get(ref):
        return lookups.payer_out(existing)
    try:
        payer = payer_create(regie=regie, actor=_actor(request), **payload.model_dump())
    except (Duplicate, IntegrityError):  # created meanwhile by a concurrent call
        return lookups.payer_out(lookups.payers_by_ref(regie, [ref])[ref])
    return Status(201, lookups.payer_out(payer))


@api.get("/regies/{number}/payers", response={200: list[PayerOut], **ERRORS}, tags=["payeurs"])
def search_payers(request, number: str, q: Query[str] = "", limit: Query[int] = 20):
    """Par nom (une partie), code de rattachement, `external_ref` ou numéro de facture."""
    regie = lookups.regie_for(_actor(request), number)
    return [lookups.payer_out(p) for p in payers_search(regie, q, max(1, min(limit, 100)))]


# --- Direct debit mandates -----------------------------------------------------------------

def _payer_by_ref(request, number: str, external_ref: str):
    regie = lookups.regie_for(_actor(request), number)
    payer = lookups.payers_by_ref(regie, [external_ref.strip()]).get(external_ref.strip())
    if payer is None:
        raise DirectDebitNotFound(f"Aucun payeur de référence « {external_ref[:60]} » dans la "
                                  f"régie {regie.number}.", field="external_ref")
    return payer


def _mandate_out(mandate: Mandate) -> dict:
    return {"rum": mandate.rum, "payer": mandate.payer.external_ref,
            "debtor_name": mandate.debtor_name, "iban": mandate.iban_masked,
            "bic": mandate.bic, "signed_on": mandate.signed_on, "kind": mandate.kind,
            "status": mandate.status, "last_collected_on": mandate.last_collected_on}


@api.post("/regies/{number}/payers/{external_ref}/mandates",
          response={200: MandateOut, 201: MandateOut, **ERRORS}, tags=["prélèvement SEPA"])
def push_mandate(request, number: str, external_ref: str, payload: MandateIn):
    """Enregistre le mandat de prélèvement SEPA signé par le payeur. Avec la `rum` d'un
    mandat déjà reçu : le même IBAN le renvoie inchangé (200), un autre IBAN le modifie
    (la RUM reste ; le prochain prélèvement porte l'indicateur de modification). L'IBAN
    n'est jamais renvoyé en entier."""
    payer = _payer_by_ref(request, number, external_ref)
    rum = payload.rum.strip()
    existing = Mandate.objects.filter(payer=payer, rum=rum).first() if rum else None
    if existing is not None:
        if existing.iban.replace(" ", "") != payload.iban.replace(" ", "").upper() \
                or existing.bic != payload.bic.replace(" ", "").upper():
            existing = mandate_amend(mandate=existing, iban=payload.iban, bic=payload.bic,
                                     debtor_name=payload.debtor_name, actor=_actor(request))
        return _mandate_out(existing)
    mandate = mandate_record(payer=payer, actor=_actor(request), source=MandateSource.API,
                             **payload.model_dump())
    return Status(201, _mandate_out(mandate))


@api.get("/regies/{number}/payers/{external_ref}/mandates",
         response={200: list[MandateOut], **ERRORS}, tags=["prélèvement SEPA"])
def list_mandates(request, number: str, external_ref: str):
    """Les mandats du payeur, du plus récent au plus ancien (IBAN masqué)."""
    payer = _payer_by_ref(request, number, external_ref)
    return [_mandate_out(m) for m in Mandate.objects.filter(payer=payer)
            .select_related("payer").order_by("-signed_on", "-id")]


def _mandate_of(request, number: str, external_ref: str, rum: str) -> Mandate:
    payer = _payer_by_ref(request, number, external_ref)
    mandate = Mandate.objects.filter(payer=payer, rum=rum.strip()).select_related(
        "payer", "regie").first()
    if mandate is None:
        raise DirectDebitNotFound(f"Aucun mandat de référence « {rum[:40]} » pour le payeur "
                                  f"« {external_ref[:60]} ».", field="rum")
    return mandate


@api.patch("/regies/{number}/payers/{external_ref}/mandates/{rum}",
           response={200: MandateOut, **ERRORS}, tags=["prélèvement SEPA"])
def amend_mandate(request, number: str, external_ref: str, rum: str,
                  payload: MandateAmendIn):
    """Change le compte du mandat (nouvel IBAN, BIC, et au besoin le titulaire) : la RUM
    reste, le prochain prélèvement porte l'indicateur de modification."""
    mandate = _mandate_of(request, number, external_ref, rum)
    return _mandate_out(mandate_amend(mandate=mandate, actor=_actor(request),
                                      **payload.model_dump()))


@api.post("/regies/{number}/payers/{external_ref}/mandates/{rum}/revoke",
          response={200: MandateOut, **ERRORS}, tags=["prélèvement SEPA"])
def revoke_mandate(request, number: str, external_ref: str, rum: str,
                   payload: MandateRevokeIn):
    """Révoque le mandat : il ne sera plus jamais prélevé. Un mandat déjà révoqué : 409."""
    mandate = _mandate_of(request, number, external_ref, rum)
    return _mandate_out(mandate_revoke(mandate=mandate, actor=_actor(request),
                                       reason=payload.reason))


def _collection_out(request, collection: Collection) -> dict:
    path = reverse("commune_api:get_collection_file", args=[collection.regie.number,
                                                            collection.pk])
    return {"id": collection.pk, "message_id": collection.message_id,
            "collection_date": collection.collection_date, "count": collection.count,
            "total": str(collection.total), "created_at": collection.created_at,
            "download_url": request.build_absolute_uri(path)}


@api.post("/regies/{number}/collections", response={201: CollectionOut, **ERRORS},
          tags=["prélèvement SEPA"])
def start_collection(request, number: str, payload: CollectionIn):
    """Prépare la remise de prélèvements de la régie pour une date d'échéance (un jour
    ouvré à venir) : les factures restant dues des payeurs qui ont un mandat actif, en un
    fichier pain.008.001.02 vérifié contre le schéma ISO 20022. Renvoie ses totaux et
    l'adresse du fichier. Rien à prélever : 400, aucun fichier."""
    regie = lookups.regie_for(_actor(request), number)
    collection = collect(regie=regie, collection_date=payload.date, actor=_actor(request))
    return Status(201, _collection_out(request, collection))


@api.get("/regies/{number}/collections", response={200: list[CollectionOut], **ERRORS},
         tags=["prélèvement SEPA"])
def list_collections(request, number: str, limit: Query[int] = 20):
    """Les remises de la régie, la plus récente d'abord."""
    regie = lookups.regie_for(_actor(request), number)
    return [_collection_out(request, c)
            for c in collections_of(regie).select_related("regie")[:max(1, min(limit, 100))]]


@api.post("/regies/{number}/collections/{collection_id}/confirm",
          response={200: ConfirmationOut, **ERRORS}, tags=["prélèvement SEPA"])
def confirm_collection(request, number: str, collection_id: int,
                       payload: ConfirmationIn | None = None):
    """La banque a crédité la remise (`credited_on`, par défaut son échéance) : chaque
    prélèvement entre au journal de la régie (mode prélèvement SEPA, quittances sans trou),
    jamais refusé pour une journée arrêtée (le premier jour ouvert). Une fois : rejouée,
    409 et rien ne change."""
    regie = lookups.regie_for(_actor(request), number)
    collection = Collection.objects.filter(regie=regie, pk=collection_id).defer("xml").first()
    if collection is None:
        raise DirectDebitNotFound(f"Aucune remise n° {collection_id} dans la régie "
                                  f"{regie.number}.", field="collection_id")
    done = collection_confirm(collection=collection, actor=_actor(request),
                              credited_on=payload.credited_on if payload else None)
    return {"collection": collection.message_id, "credited_on": done.credited_on,
            "count": done.count, "total": str(done.total),
            "first_receipt": done.first_receipt, "last_receipt": done.last_receipt,
            "to_credit": done.to_credit}


OPTIONAL_FILE = File(None)  # absent: a French 400 rather than ninja's 422


@api.post("/regies/{number}/direct-debit-returns", response={201: ReturnsOut, **ERRORS},
          tags=["prélèvement SEPA"])
def import_returns(request, number: str, file: UploadedFile | None = OPTIONAL_FILE):
    """Importe le rapport camt.054 de la banque sur les prélèvements rejetés ou retournés
    (envoi `multipart/form-data`, champ `file`) : chaque retour annule son paiement au
    journal (quittance d'annulation), rouvre la facture, garde le code motif et prévient la
    famille ; deux retours suspendent le mandat. Un retour inconnu ou déjà enregistré est
    ignoré et dit (`ignored`). Un fichier illisible : 400, rien n'est enregistré ; un
    fichier déjà importé : 409."""
    lookups.regie_for(_actor(request), number)
    if file is None:
        raise DirectDebitError("Envoyez le rapport camt.054 de la banque dans le champ « file » "
                               "d'un envoi multipart/form-data.", field="file")
    try:
        import_size_check(file.size or 0)
    except RegieError as exc:
        raise DirectDebitError(exc.message, field="file") from None
    imported = returns_import(content=file.read(), actor=_actor(request),
                              file_name=(file.name or "").replace("\x00", "")[:200])
    returns = (DebitReturn.objects.filter(file=imported).order_by("id")
               .select_related("line__invoice__payer", "line__collection__regie", "reversal"))
    return Status(201, {
        "file_name": imported.file_name, "message_id": imported.message_id,
        "returned": [{"reference": r.line.end_to_end_id,
                      "regie": r.line.collection.regie.number,
                      "invoice": r.line.invoice.number,
                      "payer": r.line.invoice.payer.external_ref,
                      "amount": str(r.line.amount), "reason_code": r.reason_code,
                      "reason_label": r.reason_label, "returned_on": r.returned_on,
                      "reversal_receipt": r.reversal.receipt if r.reversal else None}
                     for r in returns],
        "ignored": [{"line": i.get("line"), "reference": i.get("reference", ""),
                     "why": i.get("why", "")} for i in imported.ignored]})


@api.get("/regies/{number}/collections/{collection_id}/pain008.xml",
         response={200: None, **ERRORS}, tags=["prélèvement SEPA"])
def get_collection_file(request, number: str, collection_id: int):
    """Le fichier pain.008 de la remise, tel qu'il a été écrit."""
    regie = lookups.regie_for(_actor(request), number)
    collection = Collection.objects.filter(regie=regie, pk=collection_id).first()
    if collection is None:
        raise DirectDebitNotFound(f"Aucune remise n° {collection_id} dans la régie "
                                  f"{regie.number}.", field="collection_id")
    name = f"pain008-{regie.number}-{collection.collection_date:%Y-%m-%d}-{collection.pk}.xml"
    return HttpResponse(collection.xml.encode(), content_type="application/xml", headers={
        "Content-Disposition": content_disposition_header(False, name) or ""})


# --- Invoices ------------------------------------------------------------------------------

def _invoice_drafts(regie, payload: InvoicesIn) -> list[InvoiceDraft]:
    payers = lookups.payers_by_ref(regie, (i.payer.strip() for i in payload.invoices))
    products = lookups.products_by_code(regie, (line.product for i in payload.invoices
                                                for line in i.lines))
    drafts = []
    today = timezone.localdate()
    for n, given in enumerate(payload.invoices, start=1):
        payer = payers.get(given.payer.strip())
        if payer is None:
            raise NotFound(f"Aucun payeur de référence « {given.payer} » dans la régie "
                           f"{regie.name} : créez-le d'abord.", field="payer", line=n)
        lines = []
        for line in given.lines:
            product = None
            if line.product.strip():
                product = products.get(line.product.strip().lower())
                if product is None:
                    raise NotFound(f"La régie {regie.name} n'a pas de produit "
                                   f"« {line.product} ».", field="product", line=n)
            try:
                lines.append(line_draft(label=line.label, quantity=line.quantity,
                                        unit_price=line.unit_price, product=product,
                                        period_start=line.period_start,
                                        period_end=line.period_end,
                                        beneficiary=line.beneficiary))
            except RegieError as exc:
                exc.line = n
                raise
        issued_on = given.issued_on or today
        drafts.append(InvoiceDraft(payer=payer, issued_on=issued_on,
                                   due_on=given.due_on or issued_on + datetime.timedelta(days=30),
                                   lines=lines, number=given.number, label=given.label,
                                   line=n))
    return drafts


@api.post("/regies/{number}/invoices", response={201: InvoicesOut, **ERRORS},
          tags=["factures"])
def issue_invoices(request, number: str, payload: InvoicesIn):
    """Émet les factures, toutes ou aucune. Un numéro donné doit être nouveau dans la
    commune (une facture envoyée deux fois est refusée : 409 `duplicate`)."""
    regie = lookups.regie_for(_actor(request), number)
    issued = invoices_issue(regie=regie, actor=_actor(request),
                            drafts=_invoice_drafts(regie, payload), source=InvoiceSource.API)
    return Status(201, {"invoices": [lookups.invoice_out(inv)
                                     for inv in lookups.invoices([i.pk for i in issued])]})


@api.get("/regies/{number}/invoices/{invoice_number}", response={200: InvoiceOut, **ERRORS},
         tags=["factures"])
def get_invoice(request, number: str, invoice_number: str):
    regie = lookups.regie_for(_actor(request), number)
    invoice = lookups.invoice(regie, invoice_number)
    return lookups.invoice_out(invoice, in_flight([invoice.pk]).get(invoice.pk, ""))


@api.get("/regies/{number}/owed", response={200: OwedOut, **ERRORS}, tags=["factures"])
def owed(request, number: str, on: Query[datetime.date | None] = None,
         group: Query[str] = "invoice", offset: Query[int] = 0, limit: Query[int] = 100):
    """Les impayés de la régie au jour `on` (aujourd'hui par défaut) : les factures dont
    l'échéance est passée et qui restent à payer, par tranche de retard (0-30, 31-60,
    61-90, 90+ jours), avec la liste des factures (`group=invoice`, la plus ancienne
    échéance d'abord) ou le total de chaque payeur (`group=payer`, le plus gros d'abord),
    `limit` (500 au plus) à partir de `offset`."""
    regie = lookups.regie_for(_actor(request), number)
    if group not in ("invoice", "payer"):
        raise RegieError("group vaut invoice (les factures) ou payer (les payeurs).",
                         field="group")
    on = on or timezone.localdate()
    offset, limit = max(0, offset), max(1, min(limit, 500))
    found = summary(regie, on)
    keys = [key for key, *_rest in AGE_BUCKETS]
    if group == "payer":
        payers = by_payer(regie, on)
        page = payers[offset:offset + limit]
        more = len(payers) > offset + limit
        items = [{"payer": p.external_ref, "payer_name": p.name, "invoices": p.count,
                  "owed": lookups.money(p.total),
                  "by_bucket": {k: lookups.money(v) for k, v in zip(keys, p.by_bucket,
                                                                     strict=True)}}
                 for p in page]
    else:
        rows = list(past_due(regie, on)[offset:offset + limit + 1])
        more = len(rows) > limit
        items = [{"payer": i.payer.external_ref, "payer_name": i.payer.name, "invoices": 1,
                  "owed": lookups.money(i.owed), "by_bucket": {i.bucket: lookups.money(i.owed)},
                  "number": i.number, "due_on": i.due_on, "days_late": i.days_late,
                  "bucket": i.bucket, "total": lookups.money(i.total)} for i in rows[:limit]]
    return {"on": on, "invoices": found.count, "owed": lookups.money(found.total),
            "buckets": [{"key": b.key, "label": b.label, "invoices": b.count,
                         "owed": lookups.money(b.total)} for b in found.buckets],
            "group": group, "items": items, "next_offset": offset + limit if more else None}


@api.get("/regies/{number}/invoices/{invoice_number}/pdf", response={200: None, **ERRORS},
         tags=["factures"])
def get_invoice_pdf(request, number: str, invoice_number: str):
    """La facture en PDF (PDF/UA), aux couleurs de la commune : lignes, reste à payer,
    moyens de paiement (adresse et code QR du paiement en ligne, guichet, virement), code
    de rattachement du payeur, voies de recours."""
    regie = lookups.regie_for(_actor(request), number)
    invoice = lookups.invoice(regie, invoice_number)
    return HttpResponse(invoice_pdf(invoice), content_type="application/pdf", headers={
        "Content-Disposition": content_disposition_header(
            False, f"facture-{regie.number}-{invoice.number}.pdf") or ""})


# --- Payments ------------------------------------------------------------------------------

def _payment_drafts(regie, payers, payload: PaymentsIn) -> list[PaymentDraft]:
    invoices = lookups.invoices_by_number(regie, (n.strip() for p in payload.payments
                                                  for n in p.invoices))
    drafts = []
    for n, given in enumerate(payload.payments, start=1):
        if not given.external_ref.strip():
            raise RegieError("Indiquez la référence du paiement dans votre logiciel "
                             "(external_ref) : elle garantit qu'un paiement envoyé deux fois "
                             "n'est encaissé qu'une fois.", field="external_ref", line=n)
        payer = None
        if given.payer.strip():
            payer = payers.get(given.payer.strip())
            if payer is None:
                raise NotFound(f"Aucun payeur de référence « {given.payer} » dans la régie "
                               f"{regie.name}.", field="payer", line=n)
        paid = []
        for wanted in given.invoices:
            if wanted.strip() not in invoices:
                raise NotFound(f"Aucune facture {wanted} dans la régie {regie.name}.",
                               field="invoices", line=n)
            paid.append(invoices[wanted.strip()])
        drafts.append(PaymentDraft(amount=given.amount, mode=given.mode, payer=payer,
                                   payer_name=given.payer_name, invoices=paid,
                                   allocations=dict(given.allocations) or None,
                                   details=given.details, external_ref=given.external_ref,
                                   line=n))
    return drafts


@api.post("/regies/{number}/payments", response={201: PaymentOut | PaymentsOut, **ERRORS},
          tags=["paiements"])
def post_payments(request, number: str, payload: PaymentsIn):
    """Enregistre un paiement (un objet) ou plusieurs (`{"payments": [...]}`), tous ou
    aucun, chacun avec sa quittance. Une `external_ref` déjà enregistrée est refusée
    (409 `duplicate`, le message donne la quittance) : renvoyer un paiement après une
    coupure ne l'encaisse pas deux fois."""
    regie, payers = lookups.regie_and_payers(_actor(request), number,
                                             (p.payer.strip() for p in payload.payments))
    drafts = _payment_drafts(regie, payers, payload)
    entries = payments_post(regie=regie, actor=_actor(request), drafts=drafts,
                            source=EntrySource.API)
    # Without invoices a payment allocates nothing: no query to read allocations back.
    allocated = (lookups.allocations_of(entries)
                 if any(d.invoices or d.allocations for d in drafts) else {})
    out = [lookups.entry_out(regie, e, allocated.get(e.pk, [])) for e in entries]
    return Status(201, out[0] if payload.single else {"payments": out})


@api.get("/regies/{number}/payments/{receipt}", response={200: PaymentOut, **ERRORS},
         tags=["paiements"])
def get_payment(request, number: str, receipt: str):
    regie = lookups.regie_for(_actor(request), number)
    return lookups.stored_entry_out(lookups.entry(regie, receipt))


@api.get("/regies/{number}/payments/{receipt}/pdf", response={200: None, **ERRORS},
         tags=["paiements"])
def get_receipt_pdf(request, number: str, receipt: str):
    """La quittance en PDF (PDF/UA), aux couleurs de la commune."""
    regie = lookups.regie_for(_actor(request), number)
    entry = lookups.entry(regie, receipt)
    return HttpResponse(receipt_pdf(entry), content_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="quittance-{regie.number}-{entry.receipt}.pdf"'})


@api.post("/regies/{number}/payments/{receipt}/reversal", response={201: PaymentOut, **ERRORS},
          tags=["paiements"])
def reverse_payment(request, number: str, receipt: str, payload: ReversalIn):
    """Annule une quittance par une écriture négative (sa propre quittance) : le jour même
    pour un paiement de ce logiciel ; sinon seul le régisseur titulaire annule."""
    regie = lookups.regie_for(_actor(request), number)
    reversal = payment_reverse(entry=lookups.entry(regie, receipt), actor=_actor(request),
                               reason=payload.reason)
    return Status(201, lookups.stored_entry_out(lookups.entry(regie, reversal.receipt)))



# --- Hand-over to the public accountant -----------------------------------------------------

def _handover_of(request, number: str, handover_id: int) -> UnpaidHandover:
    regie = lookups.regie_for(_actor(request), number)
    found = (UnpaidHandover.objects.select_related("budget").filter(pk=handover_id, regie=regie)
             .first() if 0 < handover_id < 2**31 else None)
    if found is None:
        raise FinanceNotFound(f"La régie {regie.number} n'a pas de transmission n° "
                              f"{handover_id}.", field="handover_id")
    return found


def _handover_out(handover: UnpaidHandover, offset: int = 0, limit: int = 1000) -> dict:
    offset, limit = max(0, offset), max(1, min(limit, 1000))
    rows = []
    for item in handover.items.select_related("invoice__payer").order_by("piece"):
        rows.append((item.piece, item.invoice, item.amount,
                     "accepted" if item.accepted_at else "pending", ""))
    for back in handover.released.select_related("invoice__payer").order_by("piece"):
        rows.append((back.piece, back.invoice, back.amount, back.why, back.reason))
    rows.sort(key=lambda r: r[0])
    page = rows[offset:offset + limit]
    return {"id": handover.pk, "number": handover.number, "year": handover.year,
            "budget": handover.budget.name, "state": handover.state,
            "state_label": handover.get_state_display(), "due_before": handover.due_before,
            "count": handover.count, "total": lookups.money(handover.total),
            "file_name": handover.file_name, "sha256": handover.sha256,
            "created_at": handover.created_at, "cancelled_at": handover.cancelled_at,
            "cancel_reason": handover.cancel_reason,
            "lines": [{"piece": p, "invoice": i.number, "payer": i.payer.external_ref,
                       "payer_name": i.payer.name, "amount": lookups.money(a), "state": st,
                       "reason": why} for p, i, a, st, why in page],
            "next_offset": offset + limit if len(rows) > offset + limit else None}


@api.post("/regies/{number}/handovers", response={201: HandoverOut, **ERRORS},
          tags=["transmission au comptable"])
def create_handover(request, number: str, payload: HandoverIn):
    """Transmet au comptable public des factures impayées de la régie : celles échues
    avant `due_before` (et devant encore au moins `min_amount`), ou celles nommées dans
    `invoices`. Un bordereau de titres de recettes (un titre par facture) et son fichier
    PES V2 ; tout ou rien. Réservé aux accès qui ont le rôle « service financier » (ou
    administrateur) de la commune, ou au régisseur titulaire."""
    regie = lookups.regie_for(_actor(request), number)
    done = handover_create(regie=regie, due_before=payload.due_before, actor=_actor(request),
                           min_amount=payload.min_amount, invoices=payload.invoices)
    return Status(201, _handover_out(done))


@api.get("/regies/{number}/handovers/{handover_id}", response={200: HandoverOut, **ERRORS},
         tags=["transmission au comptable"])
def get_handover(request, number: str, handover_id: int, offset: Query[int] = 0,
                 limit: Query[int] = 1000):
    """Le bordereau, son état (en attente de l'accusé, accepté, accepté en partie, rejeté,
    annulé) et ses lignes (`limit`, 1000 au plus, à partir de `offset`), chacune avec son
    état et le motif d'un rejet."""
    return _handover_out(_handover_of(request, number, handover_id), offset, limit)


@api.get("/regies/{number}/handovers/{handover_id}/pes.xml",
         response={200: None, **ERRORS}, tags=["transmission au comptable"])
def get_handover_file(request, number: str, handover_id: int):
    """Le fichier PES V2 « PES_Aller » du bordereau, tel qu'il a été écrit."""
    done = _handover_of(request, number, handover_id)
    response = HttpResponse(bytes(done.file), content_type="application/xml")
    response["Content-Disposition"] = content_disposition_header(True, done.file_name) or ""
    return response


@api.get("/regies/{number}/deposits/{year}/{slip}/pes.xml",
         response={200: None, **ERRORS}, tags=["transmission au comptable"])
def get_deposit_file(request, number: str, year: int, slip: int):
    """Le fichier PES V2 « PES_Aller » du titre de régularisation d'un versement (le
    versement V{year}-{slip} de la page de la régie), le même que sur la page du versement."""
    regie = lookups.regie_for(_actor(request), number)
    deposit = (Deposit.objects.select_related("regie").filter(regie=regie, year=year,
                                                              number=slip).first()
               if 0 < year < 10_000 and 0 < slip < 2**31 else None)
    if deposit is None:
        raise FinanceNotFound(f"La régie {regie.number} n'a pas de versement "
                              f"V{year}-{slip:04d}.", field="slip")
    name, data = deposit_pes(deposit)
    response = HttpResponse(data, content_type="application/xml")
    response["Content-Disposition"] = content_disposition_header(True, name) or ""
    return response


@api.post("/regies/{number}/handovers/{handover_id}/cancel",
          response={200: HandoverOut, **ERRORS}, tags=["transmission au comptable"])
def cancel_handover(request, number: str, handover_id: int, payload: HandoverCancelIn):
    """Annule le bordereau tant que le comptable n'en a accepté aucun titre : ses factures
    reviennent à la régie (payables de nouveau). Refusé (403) après acceptation."""
    done = handover_cancel(handover=_handover_of(request, number, handover_id),
                           actor=_actor(request), reason=payload.reason)
    return _handover_out(done)
