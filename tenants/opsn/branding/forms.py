from typing import cast

from django import forms

from opsn.branding.images import checked_image
from opsn.branding.models import CommuneProfile, Conformity, PublicNotices
from opsn.branding.notices import template_values


class ColourInput(forms.TextInput):
    input_type = "color"


class ProfileForm(forms.ModelForm):
    website = forms.URLField(label="site web", required=False, assume_scheme="https")

    class Meta:
        model = CommuneProfile
        fields = ["official_name", "address_line", "postal_code", "city", "phone", "email",
                  "website", "siret", "logo", "emblem", "primary_color", "primary_text_color",
                  "secondary_color", "secondary_text_color", "email_sender_name"]
        widgets = {f: ColourInput() for f in ("primary_color", "primary_text_color",
                                              "secondary_color", "secondary_text_color")}

    def clean_siret(self):
        return (self.cleaned_data.get("siret") or "").replace(" ", "")

    def _clean_image(self, field: str, stored_as: str):
        upload = self.cleaned_data.get(field)
        if not upload or not hasattr(upload, "content_type"):
            return upload  # unchanged or cleared
        return checked_image(upload, stored_as=stored_as)

    def clean_logo(self):
        return self._clean_image("logo", "logo")

    def clean_emblem(self):
        return self._clean_image("emblem", "blason")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self):
        super().__init__(format="%Y-%m-%d")


class NoticesForm(forms.ModelForm):
    """The commune's notices; a new form starts from the template's values."""

    payer_retention_years = forms.IntegerField(
        label="Durée de conservation des coordonnées des payeurs (années)",
        required=False, min_value=1, max_value=10,
        help_text="De 1 à 10 ans après la dernière facture ou le dernier paiement d'un "
                  "payeur ; ensuite ses coordonnées sont effacées et son nom pseudonymisé "
                  "(sauf dossier rattaché à un compte ou facture impayée). À fixer avec le "
                  "délégué à la protection des données.")

    class Meta:
        model = PublicNotices
        fields = ["conformity", "audit_date", "audit_rate", "audit_by", "non_conformities",
                  "derogations", "feedback_contact", "statement_date", "publication_director",
                  "dpo_contact", "privacy_additions", "payer_retention_years", "avis_service_id",
                  "avis_key"]
        widgets = {"audit_date": DateInput(), "statement_date": DateInput(),
                   "non_conformities": forms.Textarea(attrs={"rows": 5}),
                   "derogations": forms.Textarea(attrs={"rows": 3}),
                   "privacy_additions": forms.Textarea(attrs={"rows": 3})}
        localized_fields = ["audit_rate"]  # 61,5 as a French administrator types it
        help_texts = {
            "non_conformities": "Une non-conformité par ligne (critère RGAA et page).",
            "derogations": "Une par ligne ; laissez vide s'il n'y en a pas.",
            "avis_service_id": "Donnés par le tableau de bord « Je donne mon avis » des "
                               "Services Publics + : le nombre après /Demarches/ dans le "
                               "code du bouton.",
            "avis_key": "La valeur après key= dans le code du bouton.",
        }

    def __init__(self, *args, profile: CommuneProfile, **kwargs):
        super().__init__(*args, **kwargs)
        template = template_values(profile)
        for name, value in template.items():
            if getattr(self.instance, name) in ("", None):  # blank: the template's value
                self.initial[name] = value
        conformity = cast(forms.ChoiceField, self.fields["conformity"])
        conformity.choices = [("", "celui de l'audit de l'opérateur"), *Conformity.choices]

    def clean_avis_key(self):
        return (self.cleaned_data.get("avis_key") or "").lower()
