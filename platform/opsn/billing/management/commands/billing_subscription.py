import datetime

from django.core.management.base import CommandError

from opsn.billing import services
from opsn.billing.computation import BillingError
from opsn.billing.models import SubscriptionRequest
from opsn.communes.errors import RegistryError
from opsn.communes.models import Commune
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = ("Record a commune's request to add or remove an application, or to leave, under "
            "the convention's calendar (effective 1 January; 3 months' notice). "
            "Without arguments: list the requests, late ones flagged.")

    def add_arguments(self, parser):
        parser.add_argument("action", nargs="?", choices=SubscriptionRequest.Action.values)
        parser.add_argument("commune", nargs="?", help="INSEE code or slug")
        parser.add_argument("module", nargs="?")
        parser.add_argument("--requested-on", default=None, help="YYYY-MM-DD (default: today)")
        parser.add_argument("--accept-late", action="store_true",
                            help="accept a late request for the year after next")

    def handle(self, *args, action, commune, module, requested_on, accept_late, **options):
        if action is None:
            for r in SubscriptionRequest.objects.select_related("commune")[:200]:
                flag = "  EN RETARD" if r.late else ""
                self.stdout.write(f"{r.requested_on} {r.commune.name} {r.get_action_display()} "
                                  f"{r.module_id or ''} → {r.effective_on}{flag}")
            return
        try:
            found = Commune.objects.named(commune or "")
            when = datetime.date.fromisoformat(requested_on) if requested_on else None
            request = services.subscription_request(commune=found, action=action,
                                                    module=module, requested_on=when,
                                                    accept_late=accept_late)
        except (BillingError, RegistryError, ValueError) as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stdout.write(f"{found.name} : {request.get_action_display()} à compter du "
                          f"{request.effective_on:%d/%m/%Y}"
                          + (" (demande en retard)" if request.late else ""))
