from django.urls import path

from opsn.citizens import debit_views, views

app_name = "citizens"

urlpatterns = [
    path("", views.payments, name="payments"),
    path("rattachements/", views.links, name="links"),
    path("mes-donnees.json", views.my_data, name="my_data"),
    path("mes-donnees.pdf", views.my_data_pdf, name="my_data_pdf"),
    path("rattachements/courriel/", views.link_by_email, name="link_by_email"),
    path("rattachements/<int:link_id>/retirer/", views.unlink, name="unlink"),
    path("payer/<int:commune_id>/<int:invoice_id>/", views.pay_online, name="pay_online"),
    path("paiement-en-ligne/<int:commune_id>/<int:payment_id>/", views.online_payment,
         name="online_payment"),
    path("quittances/<int:commune_id>/<int:entry_id>.pdf", views.receipt, name="receipt"),
    path("factures/<int:commune_id>/<int:invoice_id>.pdf", views.invoice, name="invoice"),
    path("attestations/<int:commune_id>/<int:payer_id>.pdf", views.certificate,
         name="certificate"),
    path("prelevement/", debit_views.debit_overview, name="debits"),
    path("prelevement/<int:commune_id>/<int:payer_id>/mandat/", debit_views.mandate_new,
         name="mandate_new"),
    path("prelevement/<int:commune_id>/<int:payer_id>/confirmer/",
         debit_views.mandate_confirm, name="mandate_confirm"),
    path("prelevement/mandats/<int:commune_id>/<int:mandate_id>/revoquer/",
         debit_views.mandate_revoke, name="mandate_revoke"),
    path("prelevement/mandats/<int:commune_id>/<int:mandate_id>/compte/",
         debit_views.mandate_account, name="mandate_account"),
    path("prelevement/mandats/<int:commune_id>/<int:mandate_id>/compte/confirmer/",
         debit_views.mandate_account_confirm, name="mandate_account_confirm"),
    path("prelevement/mandats/<int:commune_id>/<int:mandate_id>.pdf", debit_views.mandate_pdf,
         name="mandate_pdf"),
]
