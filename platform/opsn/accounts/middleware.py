"""A platform session is valid only on the host it was made on, only until it expires
(``SESSION_COOKIE_AGE`` after sign-in, whatever the activity), and only until its person
signs out on any of the platform's sites."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib import auth

from opsn.accounts.models import SignOut
from opsn.accounts.oidc import SESSION_EXPIRES, SESSION_HOST, SESSION_SIGNED_IN, request_host

logger = logging.getLogger("opsn.accounts")


class SessionGuard:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.session_expired = False
        if request_host(request) != settings.OPSN_IDP_HOST and request.user.is_authenticated:
            host = request_host(request)
            if request.session.get(SESSION_HOST) != host:
                logger.warning("session presented on %s but made on %r: ignored", host,
                               request.session.get(SESSION_HOST))
                auth.logout(request)
            elif float(request.session.get(SESSION_EXPIRES, 0)) < time.time():
                logger.info("session expired on %s", host)
                auth.logout(request)
                request.session_expired = True
            elif signed_out_since(request.user, float(request.session.get(SESSION_SIGNED_IN, 0))):
                logger.info("session on %s ended by a sign-out elsewhere", host)
                auth.logout(request)
        return self.get_response(request)


def signed_out_since(user, signed_in_at: float) -> bool:
    """Has the person signed out anywhere since this session began? (The user comes with
    their last sign-out: ``Backend.get_user``.)"""
    try:
        last: SignOut = user.signed_out
    except SignOut.DoesNotExist:
        return False
    return last.at >= signed_in_at
