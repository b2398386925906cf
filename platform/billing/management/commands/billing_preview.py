import csv
import sys

from django.core.management.base import BaseCommand, CommandError

from billing.computation import BillingError, compute_year, euros, format_euros


class Command(BaseCommand):
    help = ("Compute every commune's contribution for a year, without issuing anything: "
            "totals per application, or every line as CSV.")

    def add_arguments(self, parser):
        parser.add_argument("year", type=int)
        parser.add_argument("--csv", dest="csv_path", default=None,
                            help="write every line to this file ('-': standard output)")
        parser.add_argument("--commune", default=None, help="show one commune's lines")

    def handle(self, *args, year, csv_path, commune, **options):
        try:
            preview = compute_year(year)
        except BillingError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if csv_path:
            self._csv(preview, csv_path)
            return
        out = self.stdout.write
        for module, total in sorted(preview.by_module().items()):
            out(f"{module:<22} {format_euros(total):>16}")
        out(f"{'total':<22} {format_euros(preview.total_cents()):>16}  "
            f"({len(preview.by_commune())} communes)")
        if commune:
            for line in preview.lines:
                if line.insee_code == commune:
                    out(f"  {line.module:<20} {format_euros(line.amount_cents):>12}  "
                        f"{line.explanation}")

    def _csv(self, preview, path):
        handle = (sys.stdout if path == "-"
                  else open(path, "w", newline="", encoding="utf-8"))  # noqa: SIM115
        try:
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(["annee", "code_insee", "commune", "application", "regle",
                             "population", "population_retenue", "montant_avant_remise",
                             "remise_pourcent", "montant", "calcul"])
            for line in preview.lines:
                writer.writerow([preview.year, line.insee_code, line.commune, line.module,
                                 line.rule_kind, line.population or "", line.population_label,
                                 str(euros(line.base_cents)).replace(".", ","),
                                 line.discount_percent or "", str(line.amount).replace(".", ","),
                                 line.explanation])
        finally:
            if handle is not sys.stdout:
                handle.close()
