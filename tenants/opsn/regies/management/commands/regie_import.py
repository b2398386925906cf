from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from opsn.kernel import tenancy
from opsn.kernel.actors import Actor
from opsn.kernel.commands import DomainCommand
from opsn.kernel.tenancy import inside
from opsn.regies.models import ImportKind, Regie
from opsn.regies.services.imports import file_import, outcome_summary


class Command(DomainCommand):
    help = ("Import a file into a régie: invoices (CSV), card-terminal payments (CSV) or a "
            "bank statement (CAMT.053), as the agent named. Prints what was issued, posted "
            "and queued. Exit status 2 on bad input (the message names the line), 3 when the "
            "commune or régie is unknown, 4 when refused (file already imported, agent not "
            "assigned to the régie).")

    def add_arguments(self, parser):
        parser.add_argument("file", help="the file to import")
        parser.add_argument("--commune", required=True, help="INSEE code, slug or schema")
        parser.add_argument("--regie", required=True, help="the régie's number")
        parser.add_argument("--kind", required=True, choices=ImportKind.values)
        parser.add_argument("--agent", required=True,
                            help="the account of the agent who imports (assigned to the régie)")
        parser.add_argument("--encoding", default="utf-8",
                            help="of a CSV file: utf-8 (default) or cp1252 (Windows-1252)")

    def handle(self, *args, file, commune, regie, kind, agent, encoding, **options):
        path = Path(file)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Fichier illisible : {path} ({exc.strerror}).",
                               returncode=2) from exc
        found = tenancy.communes().named(commune)
        actor = _actor(agent)
        with inside(found):
            target = Regie.objects.filter(number=regie.strip()).first()
            if target is None:
                raise CommandError(f"Aucune régie n° « {regie} » à {found.name}.", returncode=3)
            batch = file_import(regie=target, actor=actor, kind=kind, content=content,
                                file_name=path.name, encoding=encoding)
        self.stdout.write(f"Import {ImportKind(kind).label} « {path.name} » dans la régie "
                          f"{target} ({found.name}) : {outcome_summary(kind, batch.outcome)}.")
        for key, value in batch.outcome.items():
            self.stdout.write(f"  {key}: {value}")


def _actor(account: str) -> Actor:
    """The agent as the ledger and the audit log name them (their full name when they have
    a local account)."""
    account = account.strip().lower()
    user = get_user_model().objects.filter(username=account).first()
    return Actor(account=account, name=(user.get_full_name() if user else "") or account)
