"""The identity provider's side of the registry's changes (accounts.identity): the
implementation is named by ``OPSN_IDENTITY_PROVISIONING`` so the registry imports no
identity code."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string


@cache
def _implementation(path: str) -> Any:
    return import_string(path)()


def provisioning() -> Any:
    return _implementation(settings.OPSN_IDENTITY_PROVISIONING)
