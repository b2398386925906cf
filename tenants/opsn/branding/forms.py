from django import forms

from opsn.branding.images import checked_image
from opsn.branding.models import CommuneProfile


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
