from django.core.management.base import CommandError

from opsn.kernel.commands import DomainCommand
from opsn.referentiel.loader import (
    SHIPPED_POPULATION_YEAR,
    SHIPPED_RELEASE,
    load_release,
)


class Command(DomainCommand):
    help = (
        "Load a release of Etalab's decoupage-administratif data (communes, EPCI, "
        "populations). Populations of earlier years are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=str(SHIPPED_RELEASE),
                            help="folder holding communes.json, epci.json, departements.json, "
                                 "regions.json (plain or .gz); default: the shipped release")
        parser.add_argument("--population-year", type=int, default=None,
                            help="INSEE reference year of the populations in this release")
        parser.add_argument("--epci-population-year", type=int, default=None,
                            help="reference year of the members' populations in epci.json "
                                 "(default: the year before --population-year)")
        parser.add_argument("--name", default=None, help="release name (default: folder name)")

    def handle(self, *args, path, population_year, epci_population_year, name, **options):
        if population_year is None:
            if path != str(SHIPPED_RELEASE):
                raise CommandError("--population-year is required for a release other than "
                                   "the shipped one")
            population_year = SHIPPED_POPULATION_YEAR
        report = load_release(path, population_year=population_year,
                              epci_population_year=epci_population_year, name=name)
        self.stdout.write(
            f"{report.release}: {report.communes} communes, {report.epcis} EPCI, "
            f"{report.populations} populations {report.population_year}"
            + (f", {report.retired} communes no longer current" if report.retired else "")
        )
