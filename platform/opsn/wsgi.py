import os

from django.core.wsgi import get_wsgi_application

from opsn.kernel.production import refuse_demo_values_to_serve

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsn.settings")
application = get_wsgi_application()
# Whatever server loads the application (`opsn serve` has checked already): in production,
# none of the demo's values.
refuse_demo_values_to_serve()
