"""Online payment of a commune's invoices through PayFiP (DGFiP): each régie's PayFiP
account (client number, environment), the payments started by citizens, their results
fetched from the provider after its notification or by the periodic reconciliation, and
the régie payment recorded once for each payment that succeeded."""
