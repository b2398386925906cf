"""Which commune the code is working for, and on which database.

Communes live in several databases (the registry's commune -> database map,
``Commune.database``); the registry itself stays in ``default``. The commune entered is
kept in a context variable, set by ``inside(commune)`` for a block, by the routing
middleware for a request and by the job middleware for a job. ``communes.routers`` sends
the commune-schema models to that commune's database; the django-tenants connection of
that database carries the commune's search_path.

Tenant code never names a database: it writes inside ``atomic()`` (a transaction on the
commune's database) and runs raw SQL on ``commune_connection()``. A test keeps bare
``transaction.atomic`` and ``django.db.connection`` out of the tenant apps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ContextDecorator, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, cast, overload

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db import connection as _connection
from django_tenants.postgresql_backend.base import DatabaseWrapper
from django_tenants.utils import get_tenant_model

from opsn.kernel.errors import CommuneReadOnly

if TYPE_CHECKING:
    from opsn.communes.models import Commune

# The default database's connection (the registry's), seen with its real type.
connection = cast(DatabaseWrapper, _connection)

_current: ContextVar[Commune | None] = ContextVar("opsn_commune", default=None)


def communes() -> Any:
    """The commune registry's manager (``Commune.objects``), found through django-tenants'
    ``TENANT_MODEL`` as Django's ``get_user_model()`` finds the user model: the commune
    apps read the registry (``.named(key)``, ``.active_with(module)``) without importing
    the registry app, which sits a layer above them."""
    return get_tenant_model().objects


def current_commune() -> Commune | None:
    """The commune entered (None outside any commune)."""
    return _current.get()


def current_alias() -> str:
    """The database alias of the commune entered (``default`` outside any commune)."""
    commune = _current.get()
    return commune.database if commune is not None else DEFAULT_DB_ALIAS


def connection_for(alias: str) -> DatabaseWrapper:
    if alias not in connections:
        raise LookupError(f"database {alias!r} of the commune map is not configured "
                          "(OPSN_COMMUNE_DATABASES)")
    return cast(DatabaseWrapper, connections[alias])


def note_schemas(alias: str, names: list[str]) -> None:
    """Count schemas that raw SQL reads by name, without entering them, towards the
    connection's recycling (``opsn.kernel.postgresql``): their relations fill the
    backend's cache as much as entered ones do."""
    note = getattr(connection_for(alias), "note_schemas", None)
    if note is not None:
        note(names)


def commune_connection() -> DatabaseWrapper:
    """The connection of the commune entered, set to its schema: for raw SQL."""
    return connection_for(current_alias())


def enter(commune: Commune | None) -> None:
    """Make ``commune`` the current one for the rest of the thread's work (a request, a
    job): its database's connection gets its search_path; the registry's connection is
    sent back to public when the commune lives elsewhere, so that stray SQL on it reads
    no other commune's schema."""
    _current.set(commune)
    if commune is None:
        if connection.schema_name != "public":
            connection.set_schema_to_public()
        return
    conn = connection_for(commune.database)
    if conn.schema_name != commune.schema_name:
        conn.set_tenant(commune)
    if conn.alias != DEFAULT_DB_ALIAS and connection.schema_name != "public":
        connection.set_schema_to_public()


def leave() -> None:
    """No commune for now, the connections left as they are (the next ``enter`` sets
    them only if they must change: no ``SET search_path`` per request)."""
    _current.set(None)


@contextmanager
def inside(commune: Commune | None) -> Iterator[None]:
    """Run a block inside ``commune``'s schema, on its database (or unchanged when
    ``commune`` is None), then give the connections back the schemas they had."""
    if commune is None:
        yield
        return
    conn = connection_for(commune.database)
    previous_tenant = conn.tenant
    previous_default = connection.tenant
    token = _current.set(commune)
    conn.set_tenant(commune)
    if conn.alias != DEFAULT_DB_ALIAS and connection.schema_name != "public":
        connection.set_schema_to_public()
    try:
        yield
    finally:
        _current.reset(token)
        conn.set_tenant(previous_tenant)
        if conn.alias != DEFAULT_DB_ALIAS and connection.tenant is not previous_default:
            connection.set_tenant(previous_default)


def check_writable() -> None:
    """Refuse a write to a commune that is being moved between databases (read-only).
    Read from the registry, not from a cache: the move relies on it. Once per outermost
    transaction and commune (nested blocks were checked when it began)."""
    commune = _current.get()
    if commune is None or len(connections.settings) == 1:
        return  # with one database, nothing is ever moved: no read to make
    conn = connection_for(commune.database)
    outermost = next((block for block in conn.atomic_blocks  # a test case's block aside
                      if not getattr(block, "_from_testcase", False)), None)
    checked = getattr(conn, "_opsn_writable", None)
    if outermost is not None and checked == (commune.pk, outermost):
        return
    moving = (get_tenant_model().objects.using(DEFAULT_DB_ALIAS).filter(pk=commune.pk)
              .values_list("moving_to", flat=True).first())
    if moving:
        raise CommuneReadOnly.for_commune(commune)
    conn._opsn_writable = (commune.pk, outermost)


class _CommuneAtomic(ContextDecorator):
    """``transaction.atomic`` on the database of the commune entered when the block
    starts (not when a decorated function is defined)."""

    def __init__(self, savepoint: bool, durable: bool):
        self.savepoint = savepoint
        self.durable = durable
        self._inner: list[Any] = []

    def _recreate_cm(self):  # a fresh one per decorated call (nesting, threads)
        return _CommuneAtomic(self.savepoint, self.durable)

    def __enter__(self):
        inner = transaction.atomic(using=current_alias(), savepoint=self.savepoint,
                                   durable=self.durable)
        inner.__enter__()
        self._inner.append(inner)
        try:
            check_writable()
        except BaseException as exc:
            self._inner.pop().__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        return self._inner.pop().__exit__(exc_type, exc, tb)


@overload
def atomic(func: Callable, /) -> Callable: ...
@overload
def atomic(*, savepoint: bool = True, durable: bool = False) -> _CommuneAtomic: ...
def atomic(func=None, /, *, savepoint=True, durable=False):
    """A transaction on the commune's database, as ``@atomic``, ``@atomic()`` or
    ``with atomic():``. Refuses to start while the commune is read-only (being moved)."""
    if callable(func):
        return _CommuneAtomic(savepoint, durable)(func)
    return _CommuneAtomic(savepoint, durable)


def on_commit(func: Callable[[], Any]) -> None:
    """``transaction.on_commit`` of the commune's database."""
    transaction.on_commit(func, using=current_alias())
