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
