"""The agents' pages for the régies, under /espace/regies/ on each commune's domains."""

from django.urls import path

from regie_pages.views import (
    admin,
    audit,
    cashdesk,
    counter,
    home,
    imports,
    journal,
    payers,
    reports,
)

app_name = "regie_pages"

urlpatterns = [
    path("", home.my_regies, name="home"),
    path("audit/", audit.audit_log, name="audit"),
    path("nouvelle/", admin.regie_new, name="regie_new"),
    # One régie (its number as the founding act gives it: « R-001 »)
    path("<str:number>/guichet/", counter.counter, name="counter"),
    path("<str:number>/quittances/<int:year>-<int:receipt>/", counter.receipt, name="receipt"),
    path("<str:number>/quittances/<int:year>-<int:receipt>/pdf/", counter.receipt_download,
         name="receipt_pdf"),
    path("<str:number>/quittances/<int:year>-<int:receipt>/annuler/", counter.receipt_reverse,
         name="receipt_reverse"),
    path("<str:number>/quittances/<int:year>-<int:receipt>/courriel/", counter.receipt_send,
         name="receipt_send"),
    path("<str:number>/journal/", journal.journal, name="journal"),
    path("<str:number>/arrete/", cashdesk.closing, name="closing"),
    path("<str:number>/versements/", cashdesk.deposits, name="deposits"),
    path("<str:number>/versements/V<int:year>-<int:slip>/bordereau.pdf", cashdesk.deposit_slip,
         name="deposit_slip"),
    path("<str:number>/versements/V<int:year>-<int:slip>/bordereau.csv",
         cashdesk.deposit_slip_detail, name="deposit_slip_csv"),
    path("<str:number>/rapports/", reports.report, name="report"),
    path("<str:number>/rapports/rapport.csv", reports.report_csv, name="report_csv"),
    path("<str:number>/imports/", imports.imports, name="imports"),
    path("<str:number>/imports/attente/<int:item_id>/encaisser/", imports.queued_post,
         name="queued_post"),
    path("<str:number>/imports/attente/<int:item_id>/ecarter/", imports.queued_dismiss,
         name="queued_dismiss"),
    path("<str:number>/payeurs/", payers.payer_list, name="payers"),
    path("<str:number>/payeurs/nouveau/", payers.payer_new, name="payer_new"),
    path("<str:number>/payeurs/<int:payer_id>/", payers.payer_detail, name="payer"),
    path("<str:number>/payeurs/<int:payer_id>/factures/nouvelle/", payers.invoice_new,
         name="invoice_new"),
    path("<str:number>/payeurs/<int:payer_id>/factures/<int:invoice_id>/annuler/",
         payers.invoice_cancel, name="invoice_cancel"),
    path("<str:number>/payeurs/<int:payer_id>/factures/<int:invoice_id>/avoir/",
         payers.credit_use, name="credit_apply"),
    path("<str:number>/administration/", admin.regie_admin, name="admin"),
    path("<str:number>/administration/acte/", admin.regie_amend, name="amend"),
    path("<str:number>/administration/produits/", admin.product_save, name="product_save"),
    path("<str:number>/administration/nominations/", admin.assignment_grant, name="appoint"),
    path("<str:number>/administration/nominations/<int:assignment_id>/fin/",
         admin.assignment_end, name="appointment_end"),
    path("<str:number>/administration/remise/", admin.handover, name="handover"),
    path("<str:number>/administration/remplacement/", admin.standin, name="standin"),
    path("<str:number>/fusion/", admin.merge, name="merge"),
]
