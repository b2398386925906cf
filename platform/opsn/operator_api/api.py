from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import NinjaAPI, Query, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.security import HttpBearer
from pydantic import BaseModel, ConfigDict

from opsn.accounts.models import OperatorApiToken
from opsn.billing import conventions, issuing
from opsn.billing import services as billing
from opsn.billing.models import Convention, Invoice, PricingRule
from opsn.communes import archive, services
from opsn.communes.errors import RegistryError, UnknownCommune
from opsn.communes.models import Commune, Module, OnboardingBatch
from opsn.communes.selectors import communes_search
from opsn.communes.tasks import run_onboarding_batch
from opsn.jobs.broker import send
from opsn.kernel.api_errors import MALFORMED, NOT_AN_OBJECT, body_not_an_object, problem
from opsn.kernel.credentials import hash_secret
from opsn.kernel.errors import DomainError


class OperatorToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        found = OperatorApiToken.objects.filter(key_hash=hash_secret(token),
                                                revoked_at__isnull=True).first()
        if found is None:
            return None
        OperatorApiToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
        return found


api = NinjaAPI(
    title="opsn — API de l'opérateur",
    version="1",
    description="Accueil, recherche, suspension et départ des communes ; facturation "
                "(remises, prestations, titres : transmission, correction, paiement). "
                "Authentification : "
                "jeton `Authorization: Bearer <jeton>` (créé par `opsn create_api_token`).",
    auth=[OperatorToken()],
    urls_namespace="operator_api",
)


class ErrorOut(Schema):
    code: str
    message: str
    field: str | None = None


class In(BaseModel):
    """What a client sends: a JSON object with these fields and no other. Plain pydantic,
    not ninja's ``Schema``, which reads the attributes of any value it is given: the body
    ``true`` made a valid ``ReasonIn`` (and suspended a commune)."""

    model_config = ConfigDict(extra="forbid")


def _error(request: HttpRequest, status: int, code: str, message: str, field=None):
    return api.create_response(request, {"code": code, "message": message, "field": field},
                               status=status)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError):
    return _error(request, exc.http_status, exc.code, exc.message, exc.field)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError):
    if exc.status_code == 400:  # ninja could not read the body
        return _error(request, 400, "malformed", MALFORMED)
    return _error(request, exc.status_code, "error", str(exc))


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError):
    """The first problem, in French: a body that is not the documented object is
    malformed (400); a field missing, unknown or of the wrong type is invalid (422)."""
    first = exc.errors[0]
    if body_not_an_object(first):
        return _error(request, 400, "malformed", NOT_AN_OBJECT)
    loc = [p for p in first.get("loc", ()) if not (isinstance(p, str) and "[" in p)]
    if loc[:1] in (["body"], ["query"], ["path"]):
        loc = loc[2:] if len(loc) > 1 and loc[1] in ("payload", "filters") else loc[1:]
    field = ".".join(str(p) for p in loc) or None
    where = f"{field} : " if field else ""
    return _error(request, 422, "invalid", f"{where}{problem(first)}.", field)


class ModuleOut(Schema):
    code: str
    name: str
    description: str
    default_on_onboarding: bool


class DomainOut(Schema):
    domain: str
    is_primary: bool


class CommuneOut(Schema):
    insee_code: str
    name: str
    slug: str
    siren: str
    departement_code: str
    region_code: str
    epci_siren: str
    status: str
    status_reason: str
    population: int | None = None
    schema_name: str
    database: str
    onboarded_at: datetime
    domains: list[DomainOut]
    modules: list[str]
    billing_siret: str
    service_code: str
    service_code_required: bool
    engagement_number: str
    engagement_number_required: bool

    @staticmethod
    def resolve_domains(obj: Commune):
        return [{"domain": d.domain, "is_primary": d.is_primary} for d in obj.domains.all()]

    @staticmethod
    def resolve_modules(obj: Commune):
        return [cm.module_id for cm in obj.communemodule_set.all()]


class CommuneFilters(Schema):
    q: str = ""
    status: str = ""
    module: str = ""
    departement: str = ""
    epci: str = ""
    limit: int = 100
    offset: int = 0


class CommunePage(Schema):
    count: int
    items: list[CommuneOut]


class OnboardIn(In):
    insee_code: str
    modules: list[str] | None = None
    custom_domains: list[str] = []
    admin_email: str | None = None
    database: str | None = None  # alias of OPSN_COMMUNE_DATABASES; default: the setting


class BatchIn(In):
    epci_siren: str | None = None
    insee_codes: list[str] | None = None
    modules: list[str] | None = None


class BatchOut(Schema):
    id: UUID
    label: str
    status: str
    total: int
    processed: int
    outcomes: dict[str, str]
    errors: dict[str, str]


class ReasonIn(In):
    reason: str = ""


class DomainIn(In):
    domain: str


class ModulesIn(In):
    modules: list[str]


class BillingIn(In):
    """How the operator's titres reach the commune in Chorus Pro."""

    billing_siret: str = ""
    service_code: str = ""
    service_code_required: bool = False
    engagement_number: str = ""
    engagement_number_required: bool = False


class ArchiveOut(Schema):
    insee_code: str
    name: str
    path: str
    sha256: str
    size_bytes: int
    created_at: datetime


class UnknownInvoice(DomainError):
    code = "not_found"
    http_status = 404


def _one(insee_code: str) -> Commune:
    return communes_search().filter(insee_code=insee_code.upper()).first() or _missing(insee_code)


def _missing(insee_code: str):
    raise UnknownCommune(f"Aucune commune accueillie n'a le code INSEE « {insee_code} ».")


@api.get("/modules", response=list[ModuleOut], tags=["catalogue"])
def list_modules(request):
    return Module.objects.filter(is_active=True)


@api.get("/communes", response=CommunePage, tags=["communes"])
def list_communes(request, filters: Query[CommuneFilters]):
    data = filters.dict()
    limit, offset = max(1, min(data.pop("limit"), 1000)), max(0, data.pop("offset"))
    qs = communes_search(**data)
    return {"count": qs.count(), "items": list(qs[offset:offset + limit])}


@api.post("/communes", response={201: CommuneOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut},
          tags=["communes"])
def onboard_commune(request, payload: OnboardIn):
    commune = services.commune_onboard(insee_code=payload.insee_code, modules=payload.modules,
                                       custom_domains=payload.custom_domains,
                                       admin_email=payload.admin_email,
                                       database=payload.database)
    return Status(201, _one(commune.insee_code))


@api.get("/communes/{insee_code}", response={200: CommuneOut, 404: ErrorOut}, tags=["communes"])
def get_commune(request, insee_code: str):
    return _one(insee_code)


@api.post("/communes/{insee_code}/suspend", response={200: CommuneOut, 404: ErrorOut,
                                                      409: ErrorOut}, tags=["communes"])
def suspend_commune(request, insee_code: str, payload: ReasonIn):
    services.commune_suspend(commune=_one(insee_code), reason=payload.reason)
    return _one(insee_code)


@api.post("/communes/{insee_code}/resume", response={200: CommuneOut, 404: ErrorOut,
                                                     409: ErrorOut}, tags=["communes"])
def resume_commune(request, insee_code: str):
    services.commune_resume(commune=_one(insee_code))
    return _one(insee_code)


@api.post("/communes/{insee_code}/domains", response={201: CommuneOut, 400: ErrorOut,
                                                      404: ErrorOut, 409: ErrorOut},
          tags=["communes"])
def add_domain(request, insee_code: str, payload: DomainIn):
    services.domain_add(commune=_one(insee_code), domain=payload.domain)
    return Status(201, _one(insee_code))


@api.delete("/communes/{insee_code}/domains/{domain}", response={200: CommuneOut, 404: ErrorOut,
                                                                 409: ErrorOut},
            tags=["communes"])
def remove_domain(request, insee_code: str, domain: str):
    services.domain_remove(commune=_one(insee_code), domain=domain)
    return _one(insee_code)


@api.put("/communes/{insee_code}/modules", response={200: CommuneOut, 400: ErrorOut,
                                                     404: ErrorOut}, tags=["communes"])
def set_modules(request, insee_code: str, payload: ModulesIn):
    services.commune_set_modules(commune=_one(insee_code), modules=payload.modules)
    return _one(insee_code)


@api.put("/communes/{insee_code}/billing", response={200: CommuneOut, 400: ErrorOut,
                                                     404: ErrorOut}, tags=["communes"])
def set_billing(request, insee_code: str, payload: BillingIn):
    """The SIRET Chorus Pro routes the commune's titres by (EN 16931 BT-46/BT-47), and its
    service code (BT-10) and engagement number (BT-13), required or not. The next titres
    carry them; titres already issued keep what they said."""
    services.commune_set_billing(commune=_one(insee_code), **payload.model_dump())
    return _one(insee_code)


@api.post("/communes/{insee_code}/offboard", response={200: ArchiveOut, 404: ErrorOut,
                                                       500: ErrorOut}, tags=["communes"])
def offboard_commune(request, insee_code: str):
    """Export the commune's schema to an archive, then remove it. Nothing is removed if the
    export fails."""
    return archive.commune_offboard(commune=_one(insee_code))


@api.post("/batches", response={202: BatchOut, 400: ErrorOut, 404: ErrorOut}, tags=["batches"])
def create_batch(request, payload: BatchIn):
    """Onboard an EPCI (by SIREN) or a list of INSEE codes, in the background. Idempotent:
    communes already onboarded are reported as such."""
    if bool(payload.epci_siren) == bool(payload.insee_codes):
        raise RegistryError("Donnez soit epci_siren, soit insee_codes.", field="epci_siren")
    batch = services.batch_prepare(epci_siren=payload.epci_siren,
                                   insee_codes=payload.insee_codes or [],
                                   modules=payload.modules)
    send(run_onboarding_batch, str(batch.pk))
    batch.refresh_from_db()  # the job may already have made progress
    return Status(202, batch)


@api.get("/batches/{batch_id}", response={200: BatchOut, 404: ErrorOut}, tags=["batches"])
def get_batch(request, batch_id: UUID):
    return get_object_or_404(OnboardingBatch, pk=batch_id)



# --- Billing: discounts and one-off services (as the console's Facturation pages) ----------

class DiscountIn(In):
    year: int
    percent: str
    reason: str
    module: str | None = None


class DiscountOut(Schema):
    id: int
    insee_code: str
    year: int
    module: str | None
    percent: str
    reason: str

    @staticmethod
    def resolve_insee_code(obj):
        return obj.commune.insee_code

    @staticmethod
    def resolve_module(obj):
        return obj.module_id

    @staticmethod
    def resolve_percent(obj):
        return str(obj.percent)


class ServiceIn(In):
    year: int
    label: str
    amount_excl_vat: str
    vat_rate: str = "20.00"


class ServiceOut(Schema):
    id: int
    insee_code: str
    year: int
    label: str
    amount_excl_vat: str
    vat_rate: str

    @staticmethod
    def resolve_insee_code(obj):
        return obj.commune.insee_code

    @staticmethod
    def resolve_amount_excl_vat(obj):
        return str(obj.amount_excl_vat)

    @staticmethod
    def resolve_vat_rate(obj):
        return str(obj.vat_rate)


def _token_name(request) -> str:
    return f"api:{getattr(request.auth, 'name', '') or request.auth.pk}"


@api.post("/communes/{insee_code}/discounts",
          response={201: DiscountOut, 400: ErrorOut, 404: ErrorOut}, tags=["billing"])
def add_discount(request, insee_code: str, payload: DiscountIn):
    """A discount for the commune and year (one application, or all when ``module`` is
    null); refused out of range, twice on one scope, or once the year is issued."""
    discount = billing.discount_set(commune=_one(insee_code), by=_token_name(request),
                                    **payload.model_dump())
    return Status(201, discount)


@api.post("/communes/{insee_code}/services",
          response={201: ServiceOut, 400: ErrorOut, 404: ErrorOut}, tags=["billing"])
def add_service(request, insee_code: str, payload: ServiceIn):
    """A one-off service (with VAT) on the commune's titre of that year."""
    charge = billing.service_charge_add(commune=_one(insee_code), by=_token_name(request),
                                        **payload.model_dump())
    return Status(201, charge)


# --- Billing: pricing rules (as the console's « Règles de tarification » page) -------------

class BracketIn(In):
    lower: int
    upper: int | None = None
    amount: str


class RuleIn(In):
    kind: str
    annual_cost: str | None = None
    operator_share_fraction: str | None = None
    operator_share_amount: str | None = None
    population_kind: str = "municipale"
    population_year: int | None = None
    brackets: list[BracketIn] = []
    newcomer_double: bool = False
    flat_amount: str | None = None


class BracketOut(Schema):
    lower: int
    upper: int | None
    amount: str

    @staticmethod
    def resolve_amount(obj):
        return str(obj.amount)


class RuleOut(Schema):
    module: str
    year: int
    kind: str
    annual_cost: str | None
    operator_share_fraction: str | None
    operator_share_amount: str | None
    population_kind: str
    population_year: int | None
    newcomer_double: bool
    flat_amount: str | None
    brackets: list[BracketOut]

    @staticmethod
    def resolve_module(obj):
        return obj.module_id

    @staticmethod
    def resolve_brackets(obj):
        return list(obj.brackets.order_by("lower"))

    @staticmethod
    def _text(value):
        return None if value is None else str(value)

    @staticmethod
    def resolve_annual_cost(obj):
        return RuleOut._text(obj.annual_cost)

    @staticmethod
    def resolve_operator_share_fraction(obj):
        return RuleOut._text(obj.operator_share_fraction)

    @staticmethod
    def resolve_operator_share_amount(obj):
        return RuleOut._text(obj.operator_share_amount)

    @staticmethod
    def resolve_flat_amount(obj):
        return RuleOut._text(obj.flat_amount)


@api.get("/billing/{year}/rules", response=list[RuleOut], tags=["billing"])
def list_rules(request, year: int):
    """The pricing rules of ``year``, one per application."""
    return list(PricingRule.objects.filter(year=year).order_by("module__position"))


@api.put("/billing/{year}/rules/{module}",
         response={200: RuleOut, 400: ErrorOut, 404: ErrorOut}, tags=["billing"])
def set_rule(request, year: int, module: str, payload: RuleIn):
    """Set (or replace) the pricing rule of ``module`` for ``year``: ``per_inhabitant``
    (annual_cost, an operator share as a fraction or an amount, population_year), ``tiers``
    (brackets, population_year, newcomer_double), ``flat`` (flat_amount) or ``free``. The
    refusals of ``opsn billing_rule``; a parameter of another kind is refused; nothing is
    saved on a refusal, nor once the year is issued."""
    data = payload.model_dump()
    brackets = [(b["lower"], b["upper"], b["amount"]) for b in data.pop("brackets")]
    return billing.rule_set(module=module, year=year, brackets=brackets,
                            by=_token_name(request), **data)


# --- Billing: the titres' life (as the console's « Titres de recette » pages) ----------------

class InvoiceLineOut(Schema):
    position: int
    module: str | None
    label: str
    amount: str
    vat_rate: str

    @staticmethod
    def resolve_module(obj):
        return obj.module_id

    @staticmethod
    def resolve_amount(obj):
        return str(obj.amount)

    @staticmethod
    def resolve_vat_rate(obj):
        return str(obj.vat_rate)


class InvoiceOut(Schema):
    number: str
    kind: str
    year: int
    insee_code: str
    commune_name: str
    total_excl_vat: str
    vat_total: str
    total: str
    status: str
    issued_at: datetime
    sent_at: datetime | None
    due_on: date | None
    contest_deadline: date | None
    contest_reason: str
    corrects: str | None
    correction_reason: str
    lines: list[InvoiceLineOut]

    @staticmethod
    def resolve_total_excl_vat(obj):
        return str(obj.total_excl_vat)

    @staticmethod
    def resolve_vat_total(obj):
        return str(obj.vat_total)

    @staticmethod
    def resolve_total(obj):
        return str(obj.total)

    @staticmethod
    def resolve_corrects(obj):
        return obj.corrects.number if obj.corrects_id else None

    @staticmethod
    def resolve_lines(obj):
        return list(obj.lines.all())


class InvoicePage(Schema):
    count: int
    items: list[InvoiceOut]


class InvoiceFilters(Schema):
    year: int | None = None
    status: str = ""
    insee_code: str = ""
    limit: int = 100
    offset: int = 0


class SendIn(In):
    """The day the titre was deposited on Chorus Pro (today when omitted)."""

    sent_on: date | None = None


class CorrectionLineIn(In):
    module: str | None = None
    label: str
    amount: str
    vat_rate: str = "0"


class CorrectIn(In):
    reason: str
    lines: list[CorrectionLineIn]


class CorrectionOut(Schema):
    credit_note: InvoiceOut
    replacement: InvoiceOut


def _invoice(number: str) -> Invoice:
    found = (Invoice.objects.select_related("corrects").prefetch_related("lines")
             .filter(number=number[:40]).first())
    if found is None:
        raise UnknownInvoice(f"Aucun titre n'a le numéro « {number[:40]} ».")
    return found


@api.get("/invoices", response=InvoicePage, tags=["billing"])
def list_invoices(request, filters: Query[InvoiceFilters]):
    """The operator's titres and credit notes, by number; filter by year, status
    (issued, sent, contested, corrected, paid) and commune."""
    qs = Invoice.objects.select_related("corrects").prefetch_related("lines").order_by("number")
    if filters.year is not None:
        qs = qs.filter(year=filters.year)
    if filters.status:
        qs = qs.filter(status=filters.status[:20])
    if filters.insee_code:
        qs = qs.filter(insee_code=filters.insee_code.strip().upper()[:5])
    limit, offset = max(1, min(filters.limit, 1000)), max(0, filters.offset)
    return {"count": qs.count(), "items": list(qs[offset:offset + limit])}


@api.get("/invoices/{number}", response={200: InvoiceOut, 404: ErrorOut}, tags=["billing"])
def get_invoice(request, number: str):
    return _invoice(number)


@api.post("/invoices/{number}/send", response={200: InvoiceOut, 400: ErrorOut, 404: ErrorOut},
          tags=["billing"])
def send_invoice(request, number: str, payload: SendIn):
    """« Transmis à Chorus Pro » on ``sent_on`` (neither in the future nor before the
    titre's issue): the payment and contest deadlines run from it."""
    issuing.invoice_send(invoice=_invoice(number), when=issuing.sent_at_of(payload.sent_on),
                         by=_token_name(request))
    return _invoice(number)


@api.post("/invoices/{number}/paid", response={200: InvoiceOut, 400: ErrorOut, 404: ErrorOut},
          tags=["billing"])
def pay_invoice(request, number: str):
    issuing.invoice_mark_paid(invoice=_invoice(number), by=_token_name(request))
    return _invoice(number)


@api.post("/invoices/{number}/correct",
          response={201: CorrectionOut, 400: ErrorOut, 404: ErrorOut}, tags=["billing"])
def correct_invoice(request, number: str, payload: CorrectIn):
    """A credit note cancels the titre whole and a new titre replaces it with ``lines``
    (amounts excluding VAT; ``vat_rate`` 0 for a contribution), both carrying ``reason``.
    Refused for a credit note, a titre already corrected or paid."""
    credit, replacement = issuing.invoice_correct(
        invoice=_invoice(number), reason=payload.reason, by=_token_name(request),
        lines=[(line.module, line.label, line.amount, line.vat_rate) for line in payload.lines])
    return Status(201, {"credit_note": _invoice(credit.number),
                        "replacement": _invoice(replacement.number)})


# --- Conventions (as the console's « Conventions » page of a commune) ----------------------

class AmendmentOut(Schema):
    number: int
    signed_on: date
    subject: str


class ConventionCostOut(Schema):
    module: str
    yearly_cost: str
    amendment: int | None
    applies_from: date

    @staticmethod
    def resolve_module(obj):
        return obj.module_id

    @staticmethod
    def resolve_yearly_cost(obj):
        return str(obj.yearly_cost)

    @staticmethod
    def resolve_amendment(obj):
        return obj.amendment.number if obj.amendment_id else None


class ConventionOut(Schema):
    id: int
    insee_code: str
    number: str
    starts_on: date
    ends_on: date
    mentions: str
    amendments: list[AmendmentOut]
    costs: list[ConventionCostOut]

    @staticmethod
    def resolve_costs(obj):
        return list(obj.costs.select_related("amendment"))

    @staticmethod
    def resolve_insee_code(obj):
        return obj.commune.insee_code

    @staticmethod
    def resolve_amendments(obj):
        return list(obj.amendments.all())


class ConventionIn(In):
    number: str
    starts_on: date
    ends_on: date
    mentions: str = ""


class AmendmentIn(In):
    signed_on: date
    subject: str


class ConventionCostIn(In):
    module: str
    yearly_cost: str
    amendment: int | None = None


def _convention(insee_code: str, convention_id: int) -> Convention:
    found = (Convention.objects.select_related("commune").prefetch_related("amendments")
             .filter(commune=_one(insee_code), pk=convention_id).first())
    if found is None:
        raise UnknownInvoice(f"Aucune convention n° {convention_id} pour la commune "
                             f"« {insee_code[:5]} ».")
    return found


@api.get("/communes/{insee_code}/conventions", response={200: list[ConventionOut],
                                                         404: ErrorOut}, tags=["conventions"])
def list_conventions(request, insee_code: str):
    return list(Convention.objects.filter(commune=_one(insee_code))
                .select_related("commune").prefetch_related("amendments"))


@api.post("/communes/{insee_code}/conventions",
          response={201: ConventionOut, 400: ErrorOut, 404: ErrorOut}, tags=["conventions"])
def add_convention(request, insee_code: str, payload: ConventionIn):
    """A convention: its number, its term (two of the commune's conventions never
    overlap) and the mentions its titres carry."""
    convention = conventions.convention_set(commune=_one(insee_code), by=_token_name(request),
                                            **payload.model_dump())
    return Status(201, _convention(insee_code, convention.pk))


@api.put("/communes/{insee_code}/conventions/{convention_id}",
         response={200: ConventionOut, 400: ErrorOut, 404: ErrorOut}, tags=["conventions"])
def change_convention(request, insee_code: str, convention_id: int, payload: ConventionIn):
    """The next titres carry the new values; titres already issued keep what they said."""
    conventions.convention_set(commune=_one(insee_code), by=_token_name(request),
                               convention=_convention(insee_code, convention_id),
                               **payload.model_dump())
    return _convention(insee_code, convention_id)


@api.post("/communes/{insee_code}/conventions/{convention_id}/amendments",
          response={201: ConventionOut, 400: ErrorOut, 404: ErrorOut}, tags=["conventions"])
def add_amendment(request, insee_code: str, convention_id: int, payload: AmendmentIn):
    """An avenant (numbered 1, 2… in the convention), with its date and its object."""
    conventions.amendment_add(convention=_convention(insee_code, convention_id),
                              by=_token_name(request), **payload.model_dump())
    return Status(201, _convention(insee_code, convention_id))


@api.post("/communes/{insee_code}/conventions/{convention_id}/costs",
          response={201: ConventionOut, 400: ErrorOut, 404: ErrorOut}, tags=["conventions"])
def add_convention_cost(request, insee_code: str, convention_id: int,
                        payload: ConventionCostIn):
    """The yearly cost the convention fixes for an application: billing uses it for the
    commune instead of the pricing rule for the convention's whole term; with
    ``amendment`` (the avenant's number), a new cost from the year of the avenant's date."""
    conventions.convention_cost_set(convention=_convention(insee_code, convention_id),
                                    by=_token_name(request), **payload.model_dump())
    return Status(201, _convention(insee_code, convention_id))
