class FixedCommuneMiddleware:
    """A single-commune deployment: the schema is set once, no host lookup at all."""

    commune = None

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.db import connection

        if connection.schema_name != self.commune.schema_name:
            connection.set_tenant(self.commune)
        request.commune = request.tenant = self.commune
        return self.get_response(request)


class CommuneFromTenant:
    """After stock django-tenants' middleware: our views read ``request.commune``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.commune = request.tenant
        return self.get_response(request)


class FixedCommuneFromEnvMiddleware:
    """For a whole server process: the commune named by OPSN_BENCH_FIXED_SCHEMA."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.commune = None

    def __call__(self, request):
        from django.conf import settings
        from django.db import connection

        if self.commune is None:
            from opsn.communes.models import Commune

            connection.set_schema_to_public()
            self.commune = Commune.objects.get(schema_name=settings.OPSN_BENCH_FIXED_SCHEMA)
        if connection.schema_name != self.commune.schema_name:
            connection.set_tenant(self.commune)
        request.commune = request.tenant = self.commune
        return self.get_response(request)
