"""Reads of the commune registry (console, API, command line)."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery

from opsn.communes.models import Commune, CommuneModule, Domain
from opsn.referentiel.models import Population


def latest_population() -> Subquery:
    return Subquery(Population.objects.filter(commune_id=OuterRef("insee_code"))
                    .order_by("-year").values("municipale")[:1])


def communes_search(*, q: str = "", status: str = "", module: str = "",
                    departement: str = "", epci: str = "") -> QuerySet[Commune]:
    qs = (Commune.objects.annotate(population=latest_population())
          .prefetch_related(Prefetch("domains", queryset=Domain.objects.order_by("-is_primary",
                                                                                 "domain")),
                            Prefetch("communemodule_set",
                                     queryset=CommuneModule.objects.current()
                                     .select_related("module").order_by("module__position"))))
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(insee_code__iexact=q) | Q(slug__icontains=q)
                       | Q(domains__domain__icontains=q) | Q(siren=q)).distinct()
    if status:
        qs = qs.filter(status=status)
    if module:
        qs = qs.filter(pk__in=CommuneModule.objects.current().filter(module_id=module)
                       .values("commune_id"))
    if departement:
        qs = qs.filter(departement_code=departement)
    if epci:
        qs = qs.filter(epci_siren=epci)
    return qs.order_by("name")


def registry_totals() -> dict[str, int]:
    by_status = dict(Commune.objects.values_list("status").annotate(n=Count("id")))
    # Summed here: a Subquery annotation cannot be aggregated by the ORM.
    population = sum(p or 0 for p in Commune.objects.annotate(population=latest_population())
                     .values_list("population", flat=True))
    return {"communes": sum(by_status.values()),
            "active": by_status.get(Commune.Status.ACTIVE, 0),
            "suspended": by_status.get(Commune.Status.SUSPENDED, 0),
            "population": population}
