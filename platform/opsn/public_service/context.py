"""Template variables every page's footer uses (settings' context processors)."""

from typing import cast

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from opsn.public_service.notices import Footer, site_footer


def footer(request: HttpRequest) -> dict:
    """``site_footer``: the site's conformity and its « Je donne mon avis » link
    (lazy: a page without the footer costs no query); ``avis_url`` the link alone."""
    footer = cast(Footer, SimpleLazyObject(lambda: site_footer(request)))
    return {"site_footer": footer, "avis_url": SimpleLazyObject(lambda: footer.avis_url)}
