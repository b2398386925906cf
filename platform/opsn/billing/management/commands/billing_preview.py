import sys

from opsn.billing.computation import compute_year
from opsn.billing.exports import write_preview_csv
from opsn.kernel.commands import DomainCommand
from opsn.kernel.money import format_cents


class Command(DomainCommand):
    help = ("Compute every commune's contribution for a year, without issuing anything: "
            "totals per application, or every line as CSV.")

    def add_arguments(self, parser):
        parser.add_argument("year", type=int)
        parser.add_argument("--csv", dest="csv_path", default=None,
                            help="write every line to this file ('-': standard output)")
        parser.add_argument("--commune", default=None, help="show one commune's lines")

    def handle(self, *args, year, csv_path, commune, **options):
        preview = compute_year(year)
        if csv_path == "-":
            write_preview_csv(preview, sys.stdout)
            return
        if csv_path:
            with open(csv_path, "w", newline="", encoding="utf-8") as handle:
                write_preview_csv(preview, handle)
            return
        out = self.stdout.write
        for module, total in sorted(preview.by_module().items()):
            out(f"{module:<22} {format_cents(total):>16}")
        out(f"{'total':<22} {format_cents(preview.total_cents()):>16}  "
            f"({len(preview.by_commune())} communes)")
        if commune:
            for line in preview.lines:
                if line.insee_code == commune:
                    out(f"  {line.module:<20} {format_cents(line.amount_cents):>12}  "
                        f"{line.explanation}")
