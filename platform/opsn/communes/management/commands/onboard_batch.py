from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from opsn.communes import services
from opsn.communes.models import OnboardingBatch
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = ("Onboard many communes: a whole EPCI (--epci SIREN) or INSEE codes (arguments or "
            "--file). Idempotent and resumable (--resume BATCH_ID), with a progress bar.")

    def add_arguments(self, parser):
        parser.add_argument("insee_codes", nargs="*")
        parser.add_argument("--epci", default=None, help="SIREN of an EPCI")
        parser.add_argument("--file", default=None, help="file of INSEE codes, one per line")
        parser.add_argument("--module", action="append", dest="modules", default=None)
        parser.add_argument("--resume", default=None, help="id of a batch to finish")

    def handle(self, *args, insee_codes, epci, file, modules, resume, **options):
        if resume:
            batch = OnboardingBatch.objects.get(pk=resume)
        else:
            codes = list(insee_codes)
            if file:
                codes += Path(file).read_text(encoding="utf-8").split()
            batch = services.batch_prepare(epci_siren=epci, insee_codes=codes, modules=modules)
        # Log lines are written above the bar, not into it (tqdm's logging redirect).
        with logging_redirect_tqdm(), tqdm(total=batch.total, desc=batch.label[:40],
                                           unit="commune", file=self.stderr._out,
                                           disable=options["verbosity"] == 0) as bar:

            def progress(b, code):
                bar.update(1)
                bar.set_postfix_str(code)

            batch = services.batch_run(batch, progress=progress)
        created = sum(1 for v in batch.outcomes.values() if v == "created")
        already = sum(1 for v in batch.outcomes.values() if v == "already onboarded")
        self.stdout.write(f"batch {batch.pk}: {created} created, {already} already onboarded, "
                          f"{len(batch.errors)} errors")
        for code, message in batch.errors.items():
            self.stderr.write(f"  {code}: {message}")
        if batch.errors:

            raise CommandError(f"{len(batch.errors)} commune(s) not onboarded; fix and run "
                               f"again with --resume {batch.pk}", returncode=2)
