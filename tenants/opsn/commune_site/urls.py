from django.urls import path

from opsn.commune_site import views

app_name = "commune_site"

urlpatterns = [
    path("", views.home, name="home"),
    path("espace/identite/", views.edit_profile, name="profile"),
    path("espace/mentions/", views.edit_notices, name="notices"),
    path("espace/mentions/registre-des-traitements.csv", views.processing_register_csv,
         name="register_csv"),
    path("espace/mentions/registre-des-traitements.ods", views.processing_register_ods,
         name="register_ods"),
    path("espace/mentions/registre-des-traitements.json", views.processing_register_json,
         name="register_json"),
    path("espace/agents/", views.agents, name="agents"),
    path("espace/applications/", views.applications, name="applications"),
    path("espace/titres-operateur/", views.operator_invoices, name="operator_invoices"),
    path("espace/titres-operateur/<str:number>.pdf", views.operator_invoice_pdf,
         name="operator_invoice_pdf"),
    path("quittances/verifier/", views.verify_receipt, name="verify_receipt"),
    path("payer/", views.pay, name="pay"),
    path("payer/paiement/", views.pay_start, name="pay_start"),
    path("payer/resultat/<str:token>/", views.pay_result, name="pay_result"),
    path("payer/quittance/<str:token>.pdf", views.pay_receipt, name="pay_receipt"),
    path("identite/logo", views.logo, name="logo"),
    path("identite/blason", views.emblem, name="emblem"),
]
