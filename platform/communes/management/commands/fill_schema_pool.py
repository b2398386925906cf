from django.core.management.base import BaseCommand

from communes import schemas


class Command(BaseCommand):
    help = ("Build spare commune schemas ahead of onboarding so that onboarding takes "
            "milliseconds (default target: OPSN_SCHEMA_POOL_SIZE).")

    def add_arguments(self, parser):
        parser.add_argument("--size", type=int, default=None)

    def handle(self, *args, size, **options):
        created = schemas.fill_spare_pool(size)
        self.stdout.write(f"{created} spare schema(s) created; {schemas.spare_count()} ready")
