
from opsn.communes import schemas
from opsn.communes.services import check_database, commune_databases
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = ("Build spare commune schemas ahead of onboarding so that onboarding takes "
            "milliseconds (default target: OPSN_SCHEMA_POOL_SIZE), in every commune database "
            "or the one named.")

    def add_arguments(self, parser):
        parser.add_argument("--size", type=int, default=None)
        parser.add_argument("--database", default=None)

    def handle(self, *args, size, database, **options):
        for alias in [check_database(database)] if database else commune_databases():
            created = schemas.fill_spare_pool(size, database=alias)
            where = "" if alias == "default" else f"{alias}: "
            self.stdout.write(f"{where}{created} spare schema(s) created; "
                              f"{schemas.spare_count(alias)} ready")
