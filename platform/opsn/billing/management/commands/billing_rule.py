from opsn.billing import services
from opsn.kernel.commands import DomainCommand


class Command(DomainCommand):
    help = ("Set the pricing rule of an application for a year, e.g.\n"
            "  opsn billing_rule e-administration 2022 --per-inhabitant 21000 "
            "--operator-fraction 0.5 --population totale --population-year 2022\n"
            "  opsn billing_rule espace-citoyen 2024 --tiers "
            "'0-500000:7500,500000-1000000:15000,1000000-:22500' --population-year 2023\n"
            "  opsn billing_rule regies 2024 --flat 14000\n"
            "  opsn billing_rule open-data 2024 --free")

    def add_arguments(self, parser):
        parser.add_argument("module")
        parser.add_argument("year", type=int)
        kind = parser.add_mutually_exclusive_group(required=True)
        kind.add_argument("--per-inhabitant", metavar="YEARLY_COST",
                          help="the application's yearly global cost, shared by population")
        kind.add_argument("--tiers", metavar="BRACKETS", help="min-max:amount,…")
        kind.add_argument("--flat", metavar="AMOUNT")
        kind.add_argument("--free", action="store_true")
        share = parser.add_mutually_exclusive_group()
        share.add_argument("--operator-fraction", default=None,
                           help="the operator's own share of the cost, e.g. 0.5")
        share.add_argument("--operator-amount", default=None)
        parser.add_argument("--population", default="municipale",
                            choices=["municipale", "totale"])
        parser.add_argument("--population-year", type=int, default=None)
        parser.add_argument("--newcomer-double", action="store_true",
                            help="tiers: newcomers pay double until they catch up")

    def handle(self, *args, module, year, per_inhabitant, tiers, flat, free, operator_fraction,
               operator_amount, population, population_year, newcomer_double, **options):
        # Every option goes to the service, which refuses one that does not belong to the
        # kind (an operator share on a flat fee) rather than dropping it silently.
        if per_inhabitant is not None:
            kind = "per_inhabitant"
        elif tiers is not None:
            kind = "tiers"
        elif flat is not None:
            kind = "flat"
        else:
            kind = "free"
        rule = services.rule_set(
            module=module, year=year, kind=kind, annual_cost=per_inhabitant,
            operator_share_fraction=operator_fraction, operator_share_amount=operator_amount,
            population_kind=population, population_year=population_year,
            brackets=tiers or (), flat_amount=flat, newcomer_double=newcomer_double,
            by="command line")
        self.stdout.write(f"{rule}")
