"""A commune's profile and branding: name, address, contact, SIRET, logo, colours.
Lives in the commune's own schema."""
