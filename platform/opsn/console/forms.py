from django import forms

from opsn.communes.models import Commune, Module
from opsn.communes.services import commune_databases


def module_choices():
    return [(m.code, m.name) for m in Module.objects.filter(is_active=True)]


class OnboardForm(forms.Form):
    # No max_length of 5: the browser would cut « 69259 » typed after a space to « 6925 ».
    # communes.services.clean_insee_code checks it (trimmed, never padded nor cut).
    insee_code = forms.CharField(label="Code INSEE de la commune", max_length=40,
                                 help_text="5 caractères, par exemple 69259 pour Vénissieux "
                                           "ou 01053 pour Bourg-en-Bresse.")
    modules = forms.MultipleChoiceField(label="Modules", required=False,
                                        widget=forms.CheckboxSelectMultiple)
    custom_domains = forms.CharField(label="Domaines personnalisés (un par ligne)",
                                     required=False, widget=forms.Textarea(attrs={"rows": 2}))
    admin_email = forms.EmailField(label="Courriel du premier administrateur", required=False)
    database = forms.ChoiceField(
        label="Base de données", required=False,
        help_text="Où son schéma est créé. Automatique : le réglage de l'opérateur, sinon la "
                  "base qui compte le moins de communes.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["modules"].choices = module_choices()
        databases = commune_databases()
        if len(databases) > 1:
            self.fields["database"].choices = [("", "Automatique"),
                                               *((d, d) for d in databases)]
        else:
            del self.fields["database"]
        if not self.is_bound:
            self.initial["modules"] = [m.code for m in Module.objects.filter(
                is_active=True, default_on_onboarding=True)]

    def domains(self) -> list[str]:
        return [d.strip() for d in self.cleaned_data["custom_domains"].splitlines() if d.strip()]


class BatchForm(forms.Form):
    epci_siren = forms.CharField(label="SIREN de l'EPCI", required=False, max_length=11,
                                 help_text="Toutes les communes de l'EPCI, par exemple "
                                           "243400017 (Montpellier Méditerranée Métropole).")
    insee_codes = forms.CharField(
        label="ou liste de codes INSEE", required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Séparés par des espaces, virgules ou retours à la ligne.")
    modules = forms.MultipleChoiceField(label="Modules", required=False,
                                        widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["modules"].choices = module_choices()
        if not self.is_bound:
            self.initial["modules"] = [m.code for m in Module.objects.filter(
                is_active=True, default_on_onboarding=True)]

    def clean(self):
        data = super().clean()
        if bool(data.get("epci_siren", "").strip()) == bool(data.get("insee_codes", "").strip()):
            raise forms.ValidationError("Donnez soit le SIREN d'un EPCI, soit une liste de "
                                        "codes INSEE.")
        return data

    def codes(self) -> list[str]:
        raw = self.cleaned_data["insee_codes"].replace(",", " ").replace(";", " ")
        return raw.split()


class SuspendForm(forms.Form):
    # Checked by communes.services.clean_reason (required, 300 characters, never cut).
    reason = forms.CharField(label="Motif (obligatoire, visible de l'opérateur seulement)",
                             required=True, max_length=1000)


class OffboardForm(forms.Form):
    confirm = forms.CharField(label="Retapez le code INSEE pour confirmer", max_length=40)

    def __init__(self, *args, commune: Commune, **kwargs):
        super().__init__(*args, **kwargs)
        self.commune = commune

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip().upper()
        if value != self.commune.insee_code:
            raise forms.ValidationError("Le code saisi ne correspond pas à cette commune.")
        return value


class DomainForm(forms.Form):
    domain = forms.CharField(label="Nouveau domaine personnalisé", max_length=253)


class ModulesForm(forms.Form):
    modules = forms.MultipleChoiceField(label="Modules", required=False,
                                        widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["modules"].choices = module_choices()


class BillingForm(forms.Form):
    """How the operator's titres reach the commune in Chorus Pro. The checks (SIRET key,
    establishment of the commune, lengths) are communes.services.commune_set_billing's."""

    billing_siret = forms.CharField(
        label="SIRET de facturation (facultatif)", required=False, max_length=40,
        help_text="L'établissement de la commune qui reçoit les titres dans Chorus Pro "
                  "(14 chiffres).")
    service_code = forms.CharField(label="Code service (facultatif)", required=False,
                                   max_length=200)
    service_code_required = forms.BooleanField(
        label="La commune exige un code service dans Chorus Pro", required=False)
    engagement_number = forms.CharField(label="Numéro d'engagement (facultatif)",
                                        required=False, max_length=200)
    engagement_number_required = forms.BooleanField(
        label="La commune exige un numéro d'engagement dans Chorus Pro", required=False)
