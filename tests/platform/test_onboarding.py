"""Onboarding one commune from its INSEE code, and every way it can be refused."""

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection

from opsn.agents.models import AgentRole, Role
from opsn.branding.contrast import passes_aa
from opsn.branding.models import CommuneProfile
from opsn.communes import errors, schemas, services
from opsn.communes.models import Commune, Domain, SpareSchema
from opsn.kernel.signals import commune_schema_ready
from tests.helpers.communes import in_schema


def commune_count_and_schemas():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'c\\_%'")
        return Commune.objects.count(), Domain.objects.count(), cursor.fetchone()[0]


def test_onboarding_takes_name_siren_population_and_epci_from_the_official_data(db):
    commune = services.commune_onboard(insee_code="69273")

    assert (commune.name, commune.siren, commune.departement_code, commune.region_code,
            commune.epci_siren) == ("Corbas", "216902734", "69", "84", "200046977")
    assert commune.schema_name == "c_69273"
    assert schemas.schema_exists("c_69273")
    assert [d.domain for d in commune.domains.all()] == ["corbas.localhost"]
    assert sorted(commune.modules.values_list("code", flat=True)) == [
        "e-administration", "espace-citoyen", "marches-publics", "open-data", "regies",
        "services-en-ligne"]


def test_onboarding_creates_default_branding_inside_the_new_schema(db):
    commune = services.commune_onboard(insee_code="42186")
    with in_schema(commune):
        profile = CommuneProfile.objects.get()
    assert profile.official_name == "Mairie de Rive-de-Gier"
    assert profile.postal_code == "42800"
    assert passes_aa(profile.primary_text_color, profile.primary_color)
    assert passes_aa(profile.secondary_text_color, profile.secondary_color)


def test_chosen_modules_custom_domains_and_first_administrator(db):
    commune = services.commune_onboard(
        insee_code="69091", modules=["regies", "espace-citoyen"],
        custom_domains=["Paiements.Givors.fr."], admin_email="Maire@Givors.fr")

    assert sorted(commune.modules.values_list("code", flat=True)) == ["espace-citoyen", "regies"]
    assert [d.domain for d in commune.domains.all()] == ["givors.localhost",
                                                         "paiements.givors.fr"]
    with in_schema(commune):
        assert list(AgentRole.objects.values_list("account", "role")) == [
            ("maire@givors.fr", Role.ADMINISTRATOR)]


def test_the_first_administrator_is_invited_by_email(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.commune_onboard(insee_code="69091", admin_email="maire@givors.fr")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["maire@givors.fr"]
    # The local provider sends the invitation: a link to activate the account there.
    assert "http://connexion.localhost/activer/" in mail.outbox[0].body
    assert "http://givors.localhost/espace/" in mail.outbox[0].body


def test_onboarding_uses_a_spare_schema_when_one_is_ready(db):
    spares = schemas.spare_count()
    assert spares > 0
    services.commune_onboard(insee_code="69273")
    assert schemas.spare_count() == spares - 1


def test_onboarding_builds_a_schema_when_the_pool_is_empty(db):
    kept = list(SpareSchema.objects.values_list("schema_name", flat=True))
    SpareSchema.objects.all().delete()  # rolled back with the test
    commune = services.commune_onboard(insee_code="69273")
    assert schemas.schema_exists(commune.schema_name)
    with in_schema(commune):
        assert CommuneProfile.objects.get().official_name == "Mairie de Corbas"
    # the spare built for the occasion was created outside the test's transaction
    assert commune.schema_name not in kept


@pytest.mark.parametrize("code, error, message", [
    ("99999", errors.UnknownInseeCode, "Aucune commune actuelle"),
    ("6925", errors.InvalidInseeCode, "« 6925 » n'est pas un code INSEE"),  # never padded
    ("69152", errors.UnknownInseeCode, "Oullins-Pierre-Bénite (69149)"),
    ("69259", errors.AlreadyOnboarded, "Vénissieux (69259) est déjà accueillie"),
])
def test_refused_insee_codes_say_why_and_create_nothing(db, code, error, message):
    before = commune_count_and_schemas()
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        services.commune_onboard(insee_code=code)
    assert commune_count_and_schemas() == before


@pytest.mark.parametrize("domain, error, message", [
    ("https://paiements.corbas.fr/", errors.InvalidDomain, "sans http"),
    ("corbas", errors.InvalidDomain, "au moins deux parties"),
    ("-x.corbas.fr", errors.InvalidDomain, "n'est pas un nom de domaine valide"),
    ("mairie-corbas.fr:8080", errors.InvalidDomain, "sans http"),
    ("console.localhost", errors.InvalidDomain, "réservé à l'opérateur"),
    ("venissieux.localhost", errors.DomainTaken, "déjà attribué"),
])
def test_refused_domains_say_why_and_create_nothing(db, domain, error, message):
    before = commune_count_and_schemas()
    spares = schemas.spare_count()
    with pytest.raises(error, match=message):
        services.commune_onboard(insee_code="69273", custom_domains=[domain])
    assert commune_count_and_schemas() == before
    assert schemas.spare_count() == spares


def test_an_unknown_module_is_refused_with_the_catalogue(db):
    with pytest.raises(errors.UnknownModule, match="billetterie.*Modules du catalogue : regies"):
        services.commune_onboard(insee_code="69273", modules=["regies", "billetterie"])
    assert not Commune.objects.filter(insee_code="69273").exists()


def test_a_failure_half_way_leaves_no_schema_no_domain_no_row(db):
    before = commune_count_and_schemas()
    spares = schemas.spare_count()

    def explode(**kwargs):
        raise RuntimeError("disk full")

    commune_schema_ready.connect(explode, dispatch_uid="explode")
    try:
        with pytest.raises(RuntimeError):
            services.commune_onboard(insee_code="69273")
    finally:
        commune_schema_ready.disconnect(dispatch_uid="explode")
    assert commune_count_and_schemas() == before
    assert not schemas.schema_exists("c_69273")
    assert schemas.spare_count() == spares  # the spare went back to the pool


def test_command_line_onboarding_and_its_exit_statuses(db, capsys):
    call_command("onboard", "69273", "--module", "regies", "--domain", "paiements.corbas.fr")
    assert "Corbas (69273) onboarded: schema c_69273" in capsys.readouterr().out

    with pytest.raises(CommandError, match="déjà accueillie") as already:
        call_command("onboard", "69273")
    assert already.value.returncode == 4
    with pytest.raises(CommandError, match="Aucune commune actuelle") as unknown:
        call_command("onboard", "00000")
    assert unknown.value.returncode == 3
    with pytest.raises(CommandError, match="nom de domaine") as invalid:
        call_command("onboard", "69091", "--domain", "pas un domaine")
    assert invalid.value.returncode == 2
