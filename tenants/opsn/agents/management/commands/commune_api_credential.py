"""Issue (or revoke) a service credential for the commune's API and appoint it to régies.

    opsn commune_api_credential --commune 69259 --name cantine-ecoles --regie R-001
    opsn commune_api_credential --commune 69259 --name cantine-ecoles --revoke
"""

from django.core.management.base import CommandError

from opsn.agents.models import ServiceCredential
from opsn.agents.services import (
    service_credential_issue,
    service_credential_revoke,
)
from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import atomic, inside
from opsn.regies.models import AssignmentRole, Regie
from opsn.regies.services.founding import assignment_grant


class Command(DomainCommand):
    help = ("Issue a credential for the commune's API (the secret is printed once) and "
            "appoint it mandataire of the given régies; an existing credential is appointed "
            "to more régies; --revoke refuses its secret from now on.")

    def add_arguments(self, parser):
        parser.add_argument("--commune", required=True, help="INSEE code or slug")
        parser.add_argument("--name", required=True, help="the software, e.g. cantine-ecoles")
        parser.add_argument("--regie", action="append", default=[], dest="regies",
                            metavar="NUMBER", help="a régie it collects for (repeatable)")
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args, commune, name, regies, revoke, **options):
        found = tenancy.communes().named(commune)
        actor = Actor.system("opsn commune_api_credential")
        name = name.strip().lower()
        with inside(found):
            existing = ServiceCredential.objects.filter(name=name).first()
            with atomic():  # a bad régie number leaves no credential behind
                if revoke:
                    if existing is None:
                        raise CommandError(f"Aucun accès « {name} » à {found.name}.",
                                           returncode=3)
                    service_credential_revoke(credential=existing, actor=actor)
                    self.stdout.write(f"Accès « {name} » révoqué à {found.name}.",
                                      self.style.SUCCESS)
                    return
                raw = None
                if existing is None:
                    existing, raw = service_credential_issue(name=name, actor=actor)
                elif existing.revoked_at is not None:
                    raise CommandError(f"L'accès « {name} » est révoqué : délivrez-en un "
                                       "autre, sous un autre nom.", returncode=4)
                elif not regies:
                    raise CommandError(f"L'accès « {name} » existe déjà à {found.name} "
                                       "(son secret ne se montre qu'une fois).",
                                       returncode=4)
                for number in regies:
                    regie = Regie.objects.filter(number=number.strip()).first()
                    if regie is None:
                        raise CommandError(f"Aucune régie « {number} » à {found.name}.",
                                           returncode=3)
                    assignment_grant(regie=regie, actor=actor, account=existing.account,
                                     role=AssignmentRole.MANDATAIRE)
        where = ", ".join(regies) or "aucune régie pour l'instant"
        if raw is None:
            self.stderr.write(f"Accès « {name} » nommé mandataire : {where}.")
            return
        self.stderr.write(f"Accès « {name} » délivré à {found.name} (mandataire : {where}). "
                          "Conservez ce secret, il ne sera plus affiché :")
        self.stdout.write(raw)
