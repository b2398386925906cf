from django.urls import path

from opsn.console import views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("statistiques/", views.statistics, name="statistics"),
    path("statistiques/statistiques-opsn.json", views.statistics_json, name="statistics_json"),
    path("statistiques/statistiques-opsn.csv", views.statistics_csv, name="statistics_csv"),
    path("communes/", views.commune_list, name="communes"),
    path("communes/accueillir/", views.commune_onboard, name="onboard"),
    path("communes/lots/nouveau/", views.batch_new, name="batch_new"),
    path("communes/lots/<uuid:pk>/", views.batch_detail, name="batch"),
    path("communes/lots/<uuid:pk>/reprendre/", views.batch_resume, name="batch_resume"),
    path("communes/archives/", views.archives, name="archives"),
    path("communes/<str:insee_code>/", views.commune_detail, name="commune"),
    path("communes/<str:insee_code>/suspendre/", views.commune_suspend, name="suspend"),
    path("communes/<str:insee_code>/reprendre/", views.commune_resume, name="resume"),
    path("communes/<str:insee_code>/domaines/ajouter/", views.domain_add, name="domain_add"),
    path("communes/<str:insee_code>/domaines/retirer/", views.domain_remove,
         name="domain_remove"),
    path("communes/<str:insee_code>/modules/", views.modules_set, name="modules"),
    path("communes/<str:insee_code>/facturation/", views.commune_billing, name="billing"),
    path("communes/<str:insee_code>/depart/", views.commune_offboard, name="offboard"),
]
