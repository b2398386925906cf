from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import NinjaAPI, Query, Schema, Status
from ninja.security import HttpBearer

from opsn.accounts.models import OperatorApiToken
from opsn.communes import archive, services
from opsn.communes.errors import RegistryError, UnknownCommune
from opsn.communes.models import Commune, Module, OnboardingBatch
from opsn.communes.selectors import communes_search
from opsn.communes.tasks import run_onboarding_batch
from opsn.jobs.broker import send
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
    description="Accueil, recherche, suspension et départ des communes. Authentification : "
                "jeton `Authorization: Bearer <jeton>` (créé par `opsn create_api_token`).",
    auth=[OperatorToken()],
    urls_namespace="operator_api",
)


class ErrorOut(Schema):
    code: str
    message: str
    field: str | None = None


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError):
    return api.create_response(request, {"code": exc.code, "message": exc.message,
                                         "field": exc.field}, status=exc.http_status)


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


class OnboardIn(Schema):
    insee_code: str
    modules: list[str] | None = None
    custom_domains: list[str] = []
    admin_email: str | None = None
    database: str | None = None  # alias of OPSN_COMMUNE_DATABASES; default: the setting


class BatchIn(Schema):
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


class ReasonIn(Schema):
    reason: str = ""


class DomainIn(Schema):
    domain: str


class ModulesIn(Schema):
    modules: list[str]


class ArchiveOut(Schema):
    insee_code: str
    name: str
    path: str
    sha256: str
    size_bytes: int
    created_at: datetime


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

