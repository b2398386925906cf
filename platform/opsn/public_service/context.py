"""Template variables every page's footer uses (settings' context processors)."""

import functools
from typing import cast

from django.contrib.staticfiles import finders
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from opsn.public_service.notices import Footer, site_footer

# The State's official « Je donne mon avis » image, when the operator has installed it among
# the static files (docs/public-service.md: it is not shipped); else a styled link.
AVIS_IMAGE = "public_service/je-donne-mon-avis.svg"


@functools.cache
def avis_image() -> str:
    return AVIS_IMAGE if finders.find(AVIS_IMAGE) else ""


def footer(request: HttpRequest) -> dict:
    """``site_footer``: the site's conformity and its « Je donne mon avis » link
    (lazy: a page without the footer costs no query); ``avis_url`` the link alone;
    ``avis_image`` the official button's static file, if installed."""
    footer = cast(Footer, SimpleLazyObject(lambda: site_footer(request)))
    return {"site_footer": footer, "avis_url": SimpleLazyObject(lambda: footer.avis_url),
            "avis_image": SimpleLazyObject(avis_image)}
