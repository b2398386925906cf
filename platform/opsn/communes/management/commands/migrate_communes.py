from django.core.management import call_command
from django.core.management.base import CommandError
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from opsn.communes.release import migrate_communes
from opsn.communes.services import check_database, commune_databases
from opsn.kernel.commands import DomainCommand
from opsn.kernel.production import refuse_demo_values


class Command(DomainCommand):
    help = ("Migrate the public schema, then every commune and spare schema that is behind, "
            "in every commune database (found in one query per database; SQL written once and "
            "replayed on N connections).")

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=4)
        parser.add_argument("--skip-public", action="store_true")
        parser.add_argument("--database", action="append", dest="databases", default=None,
                            help="only this commune database (repeat); default: all")

    def handle(self, *args, workers, skip_public, databases, **options):
        refuse_demo_values(self)
        if not skip_public:
            call_command("migrate_schemas", shared=True, interactive=False,
                         verbosity=max(0, options["verbosity"] - 1))
            call_command("createcachetable")  # the shared cache (settings.CACHES)
        bars = []

        def start(total):
            if total and options["verbosity"]:
                bars.append(tqdm(total=total, unit="schema", file=self.stderr._out))

        def progress(schema, error):
            for bar in bars:
                bar.update(1)

        failed = False
        for database in [check_database(d) for d in databases or commune_databases()]:
            with logging_redirect_tqdm():  # log lines above the bar, not into it
                report = migrate_communes(workers=workers, database=database, start=start,
                                          progress=progress)
            for bar in bars:
                bar.close()
            bars.clear()
            where = "" if database == "default" else f"{database}: "
            if options["verbosity"] or report.failed or report.missing:
                self.stdout.write(
                    f"{where}{report.schemas} schemas, {report.behind} behind, "
                    f"{len(report.migrated)} migrated, {len(report.failed)} failed, in "
                    f"{report.seconds:.2f} s")
            for schema in report.missing:
                self.stderr.write(f"  {where}{schema}: no django_migrations table (not a "
                                  "commune schema?)")
            for schema, error in report.failed.items():
                self.stderr.write(f"  {where}{schema}: {error}")
            failed = failed or bool(report.failed or report.missing)
        if failed:
            raise CommandError("some schemas were not migrated; fix and run again",
                               returncode=1)
