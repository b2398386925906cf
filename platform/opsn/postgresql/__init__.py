"""The database backend: django-tenants' (schema routing) with a cheaper health check."""
