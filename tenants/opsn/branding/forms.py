from django import forms
from PIL import Image, UnidentifiedImageError

from opsn.branding.models import CommuneProfile

MAX_IMAGE_BYTES = 1_000_000
ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP"}


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

    def _clean_image(self, field: str):
        upload = self.cleaned_data.get(field)
        if not upload or not hasattr(upload, "content_type"):
            return upload  # unchanged or cleared
        if upload.size > MAX_IMAGE_BYTES:
            raise forms.ValidationError("Image trop lourde : 1 Mo au plus.")
        try:
            with Image.open(upload) as img:
                fmt = img.format
                img.verify()
        except (UnidentifiedImageError, OSError) as exc:
            raise forms.ValidationError("Ce fichier n'est pas une image lisible.") from exc
        if fmt not in ALLOWED_FORMATS:
            raise forms.ValidationError("Formats acceptés : PNG, JPEG ou WebP.")
        upload.seek(0)
        return upload

    def clean_logo(self):
        return self._clean_image("logo")

    def clean_emblem(self):
        return self._clean_image("emblem")
