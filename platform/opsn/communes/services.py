"""Every change to the commune registry goes through these functions: the console, the
API and the command line call them and nothing else. Each is atomic: a failure leaves no
schema, no domain, no row."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.db.models import Count
from django.utils import timezone
from stdnum.fr import siret as stdnum_siret

from opsn.communes import routing, schemas
from opsn.communes.domains import (
    commune_subdomain,
    normalise_domain,
    reserved_hosts,
    slug_candidates,
)
from opsn.communes.errors import (
    AlreadyOnboarded,
    DomainTaken,
    InvalidBillingIdentifier,
    InvalidInseeCode,
    InvalidReason,
    InvalidState,
    NoModule,
    UnknownDatabase,
    UnknownEpci,
    UnknownInseeCode,
    UnknownModule,
)
from opsn.communes.identities import provisioning
from opsn.communes.models import (
    INSEE_CODE_FORMAT,
    Commune,
    CommuneModule,
    Domain,
    Module,
    OnboardingBatch,
    normalise_insee_code,
)
from opsn.kernel.metrics import ONBOARDING
from opsn.kernel.postgresql.base import recycle_if_due
from opsn.kernel.signals import commune_schema_ready
from opsn.kernel.tenancy import inside
from opsn.referentiel.models import Epci, OfficialCommune

logger = logging.getLogger("opsn.communes")


def clean_insee_code(value: str | None) -> str:
    """The one check of an INSEE code typed or sent by the operator: spaces around are
    taken out and letters upper-cased, nothing is ever padded or cut; what remains must be
    5 digits, or 2A/2B and 3 digits for Corsica."""
    raw = value or ""
    code = normalise_insee_code(raw)
    if not INSEE_CODE_FORMAT.fullmatch(code):
        shown = "".join(ch if ch.isprintable() else "?" for ch in raw.strip())[:20]
        raise InvalidInseeCode(
            f"« {shown} » n'est pas un code INSEE : 5 caractères attendus (5 chiffres, ou 2A/2B "
            "et 3 chiffres pour la Corse), par exemple 01053 pour Bourg-en-Bresse — le zéro "
            "initial des départements 01 à 09 compte.", field="insee_code")
    return code


def _official(insee_code: str) -> OfficialCommune:
    official = (OfficialCommune.objects.filter(insee_code=insee_code, is_current=True)
                .select_related("epci").first())
    if official is None:
        successor = OfficialCommune.objects.filter(former_codes__contains=[insee_code],
                                                   is_current=True).first()
        if successor is not None:
            raise UnknownInseeCode(
                f"Le code INSEE « {insee_code} » n'est plus celui d'une commune actuelle : il "
                f"fait désormais partie de {successor.name} ({successor.insee_code}). "
                f"Accueillez {successor.insee_code}.", field="insee_code")
        raise UnknownInseeCode(
            f"Aucune commune actuelle n'a le code INSEE « {insee_code} » dans le référentiel "
            "officiel (5 caractères, par exemple 69259 pour Vénissieux).", field="insee_code")
    return official


NO_MODULE = ("Choisissez au moins un module : une commune accueillie sans module ne "
             "serait jamais facturée.")


def _modules(codes: Sequence[str] | None, *, at_least_one: bool = False) -> list[Module]:
    if codes is None:
        defaults = list(Module.objects.filter(is_active=True, default_on_onboarding=True))
        if at_least_one and not defaults:
            raise NoModule(NO_MODULE, field="modules")
        return defaults
    if at_least_one and not [c for c in codes if str(c).strip()]:
        raise NoModule(NO_MODULE, field="modules")
    wanted = list(dict.fromkeys(codes))
    found = {m.code: m for m in Module.objects.filter(code__in=wanted, is_active=True)}
    missing = [c for c in wanted if c not in found]
    if missing:
        known = ", ".join(Module.objects.filter(is_active=True).values_list("code", flat=True))
        raise UnknownModule(f"Module(s) inconnu(s) : {', '.join(missing)}. Modules du "
                            f"catalogue : {known}.", field="modules")
    return [found[c] for c in wanted]


def _free_slug(official: OfficialCommune) -> str:
    for slug in slug_candidates(official.name, official.departement_code, official.insee_code):
        if (commune_subdomain(slug) not in reserved_hosts()
                and not Commune.objects.filter(slug=slug).exists()
                and not Domain.objects.filter(domain=commune_subdomain(slug)).exists()):
            return slug
    raise DomainTaken(f"Aucune adresse libre pour {official.name}.")


def _check_domains_free(domains: Iterable[str]) -> None:
    taken = list(Domain.objects.filter(domain__in=list(domains)).values_list("domain", flat=True))
    if taken:
        raise DomainTaken(f"Le domaine « {taken[0]} » est déjà attribué à une commune.",
                          field="domain")


def commune_databases() -> list[str]:
    """The databases that may hold communes: default and OPSN_COMMUNE_DATABASES."""
    return list(connections.settings)


def check_database(database: str) -> str:
    known = commune_databases()
    if database not in known:
        raise UnknownDatabase(f"La base « {database} » n'est pas déclarée (bases : "
                              f"{', '.join(known)} ; voir OPSN_COMMUNE_DATABASES).",
                              field="database")
    return database


def database_for_new_commune() -> str:
    """OPSN_NEW_COMMUNE_DATABASE when set, else the database holding the fewest communes
    (default first on a tie)."""
    if settings.OPSN_NEW_COMMUNE_DATABASE:
        return check_database(settings.OPSN_NEW_COMMUNE_DATABASE)
    known = commune_databases()
    if len(known) == 1:  # nothing to choose: no count of the whole registry
        return known[0]
    counts = dict(Commune.objects.values_list("database").annotate(n=Count("id")))
    return min(known, key=lambda alias: (counts.get(alias, 0), known.index(alias)))


def commune_onboard(*, insee_code: str, modules: Sequence[str] | None = None,
                    custom_domains: Sequence[str] = (), admin_email: str | None = None,
                    database: str | None = None) -> Commune:
    """Onboard one commune from its INSEE code: schema (in ``database``, by default
    ``database_for_new_commune()``), domains, branding, modules."""

    with ONBOARDING.time():
        return _onboard(insee_code=insee_code, modules=modules, custom_domains=custom_domains,
                        admin_email=admin_email, database=database)


def _onboard(*, insee_code: str, modules: Sequence[str] | None,
             custom_domains: Sequence[str], admin_email: str | None,
             database: str | None) -> Commune:
    """Two transactions when the commune's database is not the registry's: the schema's
    (commits first) and the registry's. If the registry's fails after the schema's
    committed, the new schema is set aside (renamed, never dropped): there is never a
    registry row without its schema."""
    elsewhere_committed = False
    try:
        with transaction.atomic():
            database = check_database(database) if database else database_for_new_commune()
            with transaction.atomic(using=database):
                commune = _onboard_in(insee_code=insee_code, modules=modules,
                                      custom_domains=custom_domains, admin_email=admin_email,
                                      database=database)
            elsewhere_committed = database != DEFAULT_DB_ALIAS
    except BaseException:
        if elsewhere_committed:
            schemas.set_aside(commune.schema_name, commune.database)
        raise
    schemas.refill_in_background(commune.database)
    return commune


def _checked(*, insee_code: str, modules: Sequence[str] | None,
             custom_domains: Sequence[str]
             ) -> tuple[str, OfficialCommune, list[Module], str, list[str]]:
    """Every refusal of an onboarding, before anything is written."""
    insee_code = clean_insee_code(insee_code)
    chosen_modules = _modules(modules, at_least_one=True)
    official = _official(insee_code)
    existing = Commune.objects.filter(insee_code=insee_code).first()
    if existing is not None:
        raise AlreadyOnboarded(f"{existing.name} ({insee_code}) est déjà accueillie sur la "
                               f"plateforme depuis le {existing.onboarded_at:%d/%m/%Y}.",
                               field="insee_code")
    extra = [normalise_domain(d) for d in custom_domains]
    slug = _free_slug(official)
    domains = [commune_subdomain(slug), *dict.fromkeys(d for d in extra)]
    _check_domains_free(domains)
    return insee_code, official, chosen_modules, slug, domains


@dataclass(frozen=True)
class OnboardingPlan:
    """What an onboarding will do, said to the operator before it is done."""

    insee_code: str
    name: str
    departement_code: str
    epci: str
    schema_name: str
    database: str
    domains: list[str]
    modules: list[str]
    admin_email: str


def onboarding_plan(*, insee_code: str, modules: Sequence[str] | None = None,
                    custom_domains: Sequence[str] = (), admin_email: str | None = None,
                    database: str | None = None) -> OnboardingPlan:
    """The same checks as ``commune_onboard``, nothing written: what the confirmation says."""
    insee_code, official, chosen, _slug, domains = _checked(
        insee_code=insee_code, modules=modules, custom_domains=custom_domains)
    database = check_database(database) if database else database_for_new_commune()
    return OnboardingPlan(
        insee_code=insee_code, name=official.name, departement_code=official.departement_code,
        epci=official.epci.name if official.epci else "",
        schema_name=schemas.schema_name_for(insee_code), database=database, domains=domains,
        modules=[m.name for m in chosen], admin_email=admin_email or "")


def _onboard_in(*, insee_code: str, modules: Sequence[str] | None,
                custom_domains: Sequence[str], admin_email: str | None,
                database: str) -> Commune:
    insee_code, official, chosen_modules, slug, domains = _checked(
        insee_code=insee_code, modules=modules, custom_domains=custom_domains)

    schema_name = schemas.schema_name_for(insee_code)
    if database != DEFAULT_DB_ALIAS and schemas.schema_exists(schema_name, database):
        # No registry row claims it (checked above): left by an interrupted onboarding.
        schemas.set_aside(schema_name, database)
    schemas.provision_schema(schema_name, database)
    try:
        commune = Commune.objects.create(
            schema_name=schema_name, database=database, insee_code=insee_code,
            name=official.name, slug=slug,
            siren=official.siren, departement_code=official.departement_code,
            region_code=official.region_code,
            epci_siren=official.epci.siren if official.epci else "",
        )
        Domain.objects.bulk_create([
            Domain(domain=d, tenant=commune, is_primary=(i == 0)) for i, d in enumerate(domains)
        ])
    except IntegrityError as exc:  # a concurrent onboarding of the same commune or domain
        raise AlreadyOnboarded(f"{official.name} ({insee_code}) vient d'être accueillie par "
                               "une autre opération.") from exc
    CommuneModule.objects.bulk_create(
        [CommuneModule(commune=commune, module=m) for m in chosen_modules])

    with inside(commune):
        commune_schema_ready.send(sender=Commune, commune=commune, official=official,
                                  admin_email=admin_email)
    provisioning().commune_provisioned(commune, admin_email)
    logger.info("commune %s (%s) accueillie : schéma %s, base %s", commune.name, insee_code,
                schema_name, database)
    return commune


def epci_members(siren: str) -> tuple[Epci, list[str]]:
    siren = (siren or "").strip().replace(" ", "")
    epci = Epci.objects.filter(siren=siren).first()
    if epci is None:
        raise UnknownEpci(f"Aucun EPCI n'a le SIREN « {siren} » dans le référentiel officiel "
                          "(9 chiffres, par exemple 243400017 pour Montpellier Méditerranée "
                          "Métropole).", field="siren")
    codes = list(epci.communes.filter(is_current=True).order_by("insee_code")
                 .values_list("insee_code", flat=True))
    return epci, codes


def _batch_codes(insee_codes: Sequence[str], modules: Sequence[str] | None) -> list[str]:
    """A batch, refused before anything runs when a code is not an INSEE code at all
    (listed), when none of its codes is a current commune (listed), or without a module.
    Codes of the referential not yet onboarded run; an unknown one among them is recorded
    in the batch's outcomes and can be fixed and resumed."""
    codes = list(dict.fromkeys(normalise_insee_code(c) for c in insee_codes if c.strip()))
    if not codes:
        raise UnknownInseeCode("La liste de codes INSEE est vide.", field="insee_codes")
    malformed = [c for c in codes if not INSEE_CODE_FORMAT.fullmatch(c)]
    if malformed:
        shown = ", ".join(f"« {''.join(ch if ch.isprintable() else '?' for ch in c)[:20]} »"
                          for c in malformed[:20])
        more = f" et {len(malformed) - 20} autre(s)" if len(malformed) > 20 else ""
        raise InvalidInseeCode(
            f"{len(malformed)} code(s) ne sont pas des codes INSEE (5 caractères, jamais "
            f"complétés) : {shown}{more}. Corrigez la liste : rien n'a été lancé.",
            field="insee_codes")
    known = set(OfficialCommune.objects.filter(insee_code__in=codes, is_current=True)
                .values_list("insee_code", flat=True))
    if not known:
        shown = ", ".join(codes[:20]) + (f" et {len(codes) - 20} autre(s)"
                                         if len(codes) > 20 else "")
        raise UnknownInseeCode(
            f"Aucun de ces codes n'est celui d'une commune actuelle du référentiel officiel : "
            f"{shown}. Rien n'a été lancé.", field="insee_codes")
    _modules(modules, at_least_one=True)  # refused before anything starts
    return codes


def batch_create(*, label: str, insee_codes: Sequence[str],
                 modules: Sequence[str] | None = None) -> OnboardingBatch:
    codes = _batch_codes(insee_codes, modules)
    return OnboardingBatch.objects.create(label=label, insee_codes=codes,
                                          modules=list(modules) if modules is not None else None)


def batch_prepare(*, epci_siren: str | None = None, insee_codes: Sequence[str] = (),
                  modules: Sequence[str] | None = None) -> OnboardingBatch:
    """A batch for the members of an EPCI (by SIREN) and/or a list of INSEE codes."""
    codes, label = list(insee_codes), "Liste de communes"
    if epci_siren:
        epci, members = epci_members(epci_siren)
        codes, label = members + codes, epci.name
    return batch_create(label=label, insee_codes=codes, modules=modules)


@dataclass(frozen=True)
class BatchPlan:
    """What a batch will do, said before it runs."""

    label: str
    new: list[tuple[str, str]]  # INSEE code, name: the communes it will onboard
    already: list[str]  # names of those already onboarded (skipped)
    unknown: list[str]  # codes not in the referential (recorded as errors)
    modules: list[str]


def batch_plan(*, epci_siren: str | None = None, insee_codes: Sequence[str] = (),
               modules: Sequence[str] | None = None) -> BatchPlan:
    """The same refusals as ``batch_prepare``; nothing written."""
    codes, label = list(insee_codes), "Liste de communes"
    if epci_siren:
        epci, members = epci_members(epci_siren)
        codes, label = members + codes, epci.name
    codes = _batch_codes(codes, modules)
    names = dict(OfficialCommune.objects.filter(insee_code__in=codes, is_current=True)
                 .values_list("insee_code", "name"))
    onboarded = set(Commune.objects.filter(insee_code__in=codes)
                    .values_list("insee_code", flat=True))
    return BatchPlan(
        label=label,
        new=[(c, names[c]) for c in codes if c in names and c not in onboarded],
        already=[names[c] for c in codes if c in onboarded],
        unknown=[c for c in codes if c not in names],
        modules=[m.name for m in _modules(modules, at_least_one=True)])


def batch_run(batch: OnboardingBatch, *,
              progress: Callable[[OnboardingBatch, str], None] | None = None) -> OnboardingBatch:
    """Onboard what is left of a batch. Resumable: a code already processed is skipped;
    idempotent: a commune already onboarded is recorded as such, never created twice."""
    batch.status = OnboardingBatch.Status.RUNNING
    batch.save(update_fields=["status"])
    for code in batch.insee_codes:
        if code in batch.outcomes and batch.outcomes[code] in ("created", "already onboarded"):
            if progress:
                progress(batch, code)
            continue
        try:
            commune_onboard(insee_code=code, modules=batch.modules)
            outcome = "created"
        except AlreadyOnboarded:
            outcome = "already onboarded"
        except (UnknownInseeCode, UnknownModule, DomainTaken) as exc:
            outcome = exc.message
        batch.outcomes[code] = outcome
        batch.save(update_fields=["outcomes"])
        recycle_if_due()  # a batch of 2,000 communes must not keep 2,000 schemas cached
        if progress:
            progress(batch, code)
    batch.status = OnboardingBatch.Status.FAILED if batch.errors else OnboardingBatch.Status.DONE
    batch.finished_at = timezone.now()
    batch.save(update_fields=["status", "finished_at"])
    return batch


@transaction.atomic
def commune_suspend(*, commune: Commune, reason: str) -> Commune:
    commune = Commune.objects.select_for_update().get(pk=commune.pk)
    if commune.is_suspended:
        raise InvalidState(f"{commune.name} est déjà suspendue.")
    reason = clean_reason(reason)
    commune.status = Commune.Status.SUSPENDED
    commune.status_reason = reason
    commune.status_changed_at = timezone.now()
    commune.save(update_fields=["status", "status_reason", "status_changed_at"])
    provisioning().commune_suspended(commune)
    routing.forget_soon()
    return commune


REASON_MAX_LENGTH = 300


def clean_reason(value: str | None) -> str:
    """The reason of a suspension: required, printable, 300 characters at most (never cut)."""
    reason = " ".join((value or "").split())
    if not reason:
        raise InvalidReason("Donnez le motif de la suspension : il reste dans la fiche de la "
                            "commune.", field="reason")
    if any(not ch.isprintable() for ch in reason):
        raise InvalidReason("Le motif contient des caractères non imprimables.", field="reason")
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidReason(f"Le motif : {REASON_MAX_LENGTH} caractères au plus "
                            f"({len(reason)} donnés).", field="reason")
    return reason


@transaction.atomic
def commune_resume(*, commune: Commune) -> Commune:
    commune = Commune.objects.select_for_update().get(pk=commune.pk)
    if not commune.is_suspended:
        raise InvalidState(f"{commune.name} n'est pas suspendue.")
    commune.status = Commune.Status.ACTIVE
    commune.status_reason = ""
    commune.status_changed_at = timezone.now()
    commune.save(update_fields=["status", "status_reason", "status_changed_at"])
    provisioning().commune_resumed(commune)
    routing.forget_soon()
    return commune


@transaction.atomic
def domain_add(*, commune: Commune, domain: str) -> Domain:
    name = normalise_domain(domain)
    _check_domains_free([name])
    try:
        with transaction.atomic():
            created = Domain.objects.create(domain=name, tenant=commune, is_primary=False)
    except IntegrityError as exc:
        raise DomainTaken(f"Le domaine « {name} » est déjà attribué.", field="domain") from exc
    routing.forget_soon()
    return created


@transaction.atomic
def domain_remove(*, commune: Commune, domain: str) -> None:
    found = Domain.objects.filter(tenant=commune, domain=domain.strip().lower()).first()
    if found is None:
        raise InvalidState(f"{commune.name} n'a pas le domaine « {domain} ».", field="domain")
    if found.is_primary:
        raise InvalidState("Le domaine principal d'une commune ne peut pas être retiré.",
                           field="domain")
    found.delete()
    routing.forget_soon()


@transaction.atomic
def commune_set_modules(*, commune: Commune, modules: Sequence[str]) -> list[Module]:
    """The operator's immediate change of a commune's modules (from today). Ended
    subscriptions are kept for billing; requests under the convention's calendar go
    through billing.services.subscription_request."""
    chosen = _modules(modules)
    today = timezone.localdate()
    current = CommuneModule.objects.current(today).filter(commune=commune)
    for sub in current.exclude(module__in=chosen):
        if sub.starts_on == today:
            sub.delete()  # taken and left the same day: no period to bill
        else:
            sub.ends_on = today
            sub.save(update_fields=["ends_on"])
    have = set(current.values_list("module_id", flat=True))
    CommuneModule.objects.bulk_create(
        [CommuneModule(commune=commune, module=m, starts_on=today)
         for m in chosen if m.code not in have])
    return chosen


SIRET_FORMAT = re.compile(r"[0-9]{14}")


def _reference(value: str | None, *, label: str, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if len(value) > max_length:
        raise InvalidBillingIdentifier(f"{label} : {max_length} caractères au plus.",
                                       field=field)
    if any(not ch.isprintable() for ch in value):
        raise InvalidBillingIdentifier(f"{label} : caractères non imprimables refusés.",
                                       field=field)
    return value


def clean_siret(value: str | None, *, siren: str = "") -> str:
    """The SIRET as 14 digits ("" when none is given): spaces are taken out, nothing is
    padded or cut; its key must be right and, when the commune's SIREN is known, it must
    be one of its establishments."""
    raw = (value or "").strip()
    siret = raw.replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if not siret:
        return ""
    if not SIRET_FORMAT.fullmatch(siret):
        raise InvalidBillingIdentifier(
            f"« {raw[:40]} » n'est pas un SIRET : 14 chiffres attendus.", field="billing_siret")
    if not stdnum_siret.is_valid(siret):
        raise InvalidBillingIdentifier(
            f"Le SIRET {siret} est invalide (clé de contrôle fausse).", field="billing_siret")
    if siren and siret[:9] != siren:
        raise InvalidBillingIdentifier(
            f"Le SIRET {siret} n'est pas un établissement de la commune (SIREN {siren}).",
            field="billing_siret")
    return siret


@transaction.atomic
def commune_set_billing(*, commune: Commune, billing_siret: str | None,
                        service_code: str | None = "", service_code_required: bool = False,
                        engagement_number: str | None = "",
                        engagement_number_required: bool = False) -> Commune:
    """How the operator's titres reach the commune in Chorus Pro: the SIRET of its billing
    establishment, and the service code and engagement number when it requires them.
    The next titres carry them; titres already issued keep what they said."""
    commune = Commune.objects.select_for_update().get(pk=commune.pk)
    siret = clean_siret(billing_siret, siren=commune.siren)
    code = _reference(service_code, label="Code service", field="service_code",
                      max_length=100)
    engagement = _reference(engagement_number, label="Numéro d'engagement",
                            field="engagement_number", max_length=50)
    if (service_code_required or engagement_number_required) and not siret:
        raise InvalidBillingIdentifier(
            "Donnez le SIRET de facturation : le code service et le numéro d'engagement "
            "se rattachent à lui dans Chorus Pro.", field="billing_siret")
    if service_code_required and not code:
        raise InvalidBillingIdentifier(
            f"{commune.name} exige un code service : donnez-le.", field="service_code")
    if engagement_number_required and not engagement:
        raise InvalidBillingIdentifier(
            f"{commune.name} exige un numéro d'engagement : donnez-le.",
            field="engagement_number")
    commune.billing_siret = siret
    commune.service_code = code
    commune.service_code_required = bool(service_code_required)
    commune.engagement_number = engagement
    commune.engagement_number_required = bool(engagement_number_required)
    commune.save(update_fields=["billing_siret", "service_code", "service_code_required",
                                "engagement_number", "engagement_number_required"])
    return commune
