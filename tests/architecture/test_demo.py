"""The README's demo: the SITIV communes, their administrators, and a régie ready for the
counter in each. Preparing it twice changes nothing."""

from decimal import Decimal

from django.core.management import call_command

from opsn.communes.models import Commune
from opsn.online_payments.models import PayfipAccount
from opsn.regies.models import Assignment, Invoice, LedgerEntry, Payer, Regie
from tests.helpers.communes import BOTH_DATABASES, in_schema


@BOTH_DATABASES  # the demo migrates every commune database
def test_the_demo_has_a_regie_ready_for_the_counter_in_each_commune(db, capsys):
    call_command("demo", "--no-serve")
    call_command("demo", "--no-serve")  # idempotent
    out = capsys.readouterr().out
    assert "regisseur@<commune>.demo           titulaire de la régie" in out
    assert Commune.objects.filter(insee_code__in=["69259", "69256", "42207"]).count() == 3

    with in_schema(Commune.objects.get(insee_code="69259")):
        regie = Regie.objects.get(number="R-CANT")
        assert regie.products.count() == 2 and Payer.objects.count() == 4
        assert sorted(Invoice.objects.values_list("status", flat=True)) == [
            "due", "due", "paid", "partly_paid"]
        assert LedgerEntry.objects.count() == 2
        assert sum(e.amount for e in LedgerEntry.objects.all()) > Decimal("20")
        assert set(Assignment.objects.values_list("account", "role")) == {
            ("regisseur@venissieux.demo", "titulaire"), ("caisse@venissieux.demo", "mandataire"),
            ("service:payfip", "mandataire")}  # records the online payments

        account = PayfipAccount.objects.get(regie=regie)
        assert (account.numcli, account.environment, account.enabled) == ("123456", "T", True)
        assert Payer.objects.filter(email="camille.durand@citoyen.demo").count() == 1
