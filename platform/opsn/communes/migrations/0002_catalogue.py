"""The first catalogue of modules. The catalogue is data: the operator adds and retires
modules as rows; this migration only gives a new platform its starting set."""

from django.db import migrations

MODULES = [
    ("regies", "Régies", "Encaissements des régies municipales, quittances, versements au "
     "comptable.", 10),
    ("espace-citoyen", "Espace citoyen", "Factures, paiements et quittances de l'usager, dans "
     "toutes les communes.", 20),
    ("services-en-ligne", "Services en ligne", "Démarches et paiements en ligne des usagers.", 30),
    ("e-administration", "E-administration", "Outils numériques des services municipaux.", 40),
    ("marches-publics", "Marchés publics", "Profil d'acheteur et dématérialisation des marchés.",
     50),
    ("open-data", "Données ouvertes", "Publication des données publiques de la commune.", 60),
]


def add(apps, schema_editor):
    Module = apps.get_model("communes", "Module")
    for code, name, description, position in MODULES:
        Module.objects.update_or_create(code=code, defaults={
            "name": name, "description": description, "position": position})


def remove(apps, schema_editor):
    apps.get_model("communes", "Module").objects.filter(code__in=[m[0] for m in MODULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("communes", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
