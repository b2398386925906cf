from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from communes.release import migrate_communes


class Command(BaseCommand):
    help = ("Migrate the public schema, then every commune and spare schema that is behind "
            "(found in one query; SQL written once and replayed on N connections).")

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=4)
        parser.add_argument("--skip-public", action="store_true")

    def handle(self, *args, workers, skip_public, **options):
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

        report = migrate_communes(workers=workers, start=start, progress=progress)
        for bar in bars:
            bar.close()
        if options["verbosity"] or report.failed or report.missing:
            self.stdout.write(
                f"{report.schemas} schemas, {report.behind} behind, {len(report.migrated)} "
                f"migrated, {len(report.failed)} failed, in {report.seconds:.2f} s")
        for schema in report.missing:
            self.stderr.write(f"  {schema}: no django_migrations table (not a commune schema?)")
        for schema, error in report.failed.items():
            self.stderr.write(f"  {schema}: {error}")
        if report.failed or report.missing:
            raise CommandError("some schemas were not migrated; fix and run again",
                               returncode=1)
