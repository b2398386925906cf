"""The régies' data, one module per concept: founding (régies, products, who collects),
payers (payers, invoices), ledger (entries, allocations, holdings), cashdesk (closings,
deposits), imports (files and the queue of unmatched payments)."""

from opsn.regies.models.cashdesk import ClosingLine, DailyClosing, Deposit, DepositLine
from opsn.regies.models.documents import (
    BatchStatus,
    DocumentBatch,
    InvoiceMailing,
    MailingStatus,
)
from opsn.regies.models.founding import (
    ACCOUNT_MODES,
    DRAWER_MODES,
    HELD_MODES,
    Assignment,
    AssignmentRole,
    Handover,
    PaymentMode,
    Product,
    Regie,
    RegieMerge,
    StandIn,
)
from opsn.regies.models.imports import ImportBatch, ImportedPayment, ImportKind, QueueStatus
from opsn.regies.models.ledger import (
    Allocation,
    EntrySource,
    Holding,
    LedgerEntry,
    ReceiptCounter,
    day_bounds,
    receipt_label,
)
from opsn.regies.models.payers import (
    Invoice,
    InvoiceLine,
    InvoiceSource,
    InvoiceStatus,
    Payer,
    PayerKind,
)

__all__ = [
    "ACCOUNT_MODES", "DRAWER_MODES", "HELD_MODES", "Allocation", "Assignment", "AssignmentRole",
    "BatchStatus", "ClosingLine", "DailyClosing", "DocumentBatch", "InvoiceMailing",
    "MailingStatus",
    "Deposit", "DepositLine", "EntrySource", "Handover", "Holding", "ImportBatch", "ImportKind",
    "ImportedPayment", "Invoice", "InvoiceLine", "InvoiceSource", "InvoiceStatus", "LedgerEntry",
    "Payer", "PayerKind", "PaymentMode", "Product", "QueueStatus", "ReceiptCounter", "Regie",
    "RegieMerge", "StandIn", "day_bounds", "receipt_label",
]
