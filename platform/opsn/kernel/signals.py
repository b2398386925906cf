"""Hooks for the apps that live inside a commune's schema.

``commune_schema_ready`` is sent inside the onboarding transaction, with the database
connection already set to the new commune's schema: receivers write their first rows
(default branding, the first administrator's role). If a receiver fails, the whole
onboarding is rolled back.
"""

from django.dispatch import Signal

# sender=Commune, commune=<Commune>, official=<OfficialCommune>, admin_email=str | None
commune_schema_ready = Signal()
