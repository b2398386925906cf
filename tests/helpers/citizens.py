"""The books the citizens' tests read: a family with payer records in two communes."""

from __future__ import annotations

from opsn.communes.models import Commune
from opsn.regies.services import payments
from tests.helpers.communes import in_schema
from tests.helpers.regies import TITULAIRE, make_invoice, make_payer, make_regie


def family_books(venissieux: Commune, vaulx: Commune) -> dict:
    """Famille Martin owes Vénissieux's canteen and Vaulx-en-Velin's swimming pool; each
    commune also has a payer the citizen has nothing to do with."""
    with in_schema(venissieux):
        canteen = make_regie("R-001", "Cantine et périscolaire")
        martin = make_payer(canteen, "Famille Martin", email="martin@example.fr")
        october = make_invoice(canteen, martin, "45.00", "12.50", number="CANT-2026-10")
        november = make_invoice(canteen, martin, "30.00", number="CANT-2026-11")
        payments.payment_record(regie=canteen, actor=TITULAIRE, amount="57.50", mode="cash",
                                invoices=[october])
        stranger = make_payer(canteen, "Famille Durand")
        make_invoice(canteen, stranger, "99.00", number="CANT-2026-D")
        payments.payment_record(regie=canteen, actor=TITULAIRE, amount="99.00",
                                mode="cheque", payer=stranger,
                                details={"cheque_number": "0012345", "bank": "La Banque"})
    with in_schema(vaulx):
        pool = make_regie("P-01", "Piscine municipale")
        martin_vaulx = make_payer(pool, "M. et Mme Martin")
        swim = make_invoice(pool, martin_vaulx, "24.00", number="PISC-2026-7")
        payments.payment_record(regie=pool, actor=TITULAIRE, amount="10.00", mode="card",
                                invoices=[swim], details={"terminal_ref": "TPE-88"})
    return {"venissieux": (venissieux, martin, november, canteen),
            "vaulx": (vaulx, martin_vaulx, swim, pool)}
