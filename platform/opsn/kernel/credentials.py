"""Secrets given to software (the operator's API tokens, a commune's service credentials):
made here, shown once, and kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets


def hash_secret(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_secret(prefix: str) -> tuple[str, str]:
    """A new secret starting with ``prefix`` (which says what it opens), and its hash."""
    raw = prefix + secrets.token_urlsafe(32)
    return raw, hash_secret(raw)
