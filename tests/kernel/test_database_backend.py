"""The database backend's health check: a connection the server ended, or that idled, is
replaced before the next request uses it; one that served a request a moment ago, and on
which the server said nothing since, is not asked again."""

import time
from unittest import mock

import pytest
from django.db import connection, connections

from opsn.postgresql import base


def fresh_connection():
    """A connection of its own (not the test's transaction), as a worker holds one."""
    conn = connections.create_connection("default")
    conn.ensure_connection()
    return conn


def request_ends(conn) -> None:
    conn.close_if_unusable_or_obsolete()  # what Django does when a request finishes


@pytest.mark.parametrize("when", ["after a second idle", "a moment after a request"])
def test_a_connection_the_server_ended_is_replaced_before_the_next_request(db, when):
    conn = fresh_connection()
    try:
        request_ends(conn)
        cut = conn.connection.info.backend_pid
        with connection.cursor() as cursor:  # a restart, a failover, an idle timeout
            cursor.execute("SELECT pg_terminate_backend(%s)", [cut])
        if when == "after a second idle":
            conn._request_ended_at -= base.RECENTLY + 1
        else:
            time.sleep(0.05)  # the server's farewell reaches the socket
        with conn.cursor() as cursor:  # the next request's first query
            cursor.execute("SELECT 41 + 1")
            assert cursor.fetchone() == (42,)
        assert conn.connection.info.backend_pid != cut
    finally:
        conn.close()


def test_a_connection_used_a_moment_ago_is_not_checked_again(db):
    conn = fresh_connection()
    try:
        request_ends(conn)
        with mock.patch.object(conn, "is_usable", wraps=conn.is_usable) as checked:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
            assert not checked.called
            request_ends(conn)
            conn._request_ended_at -= base.RECENTLY + 1
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
            assert checked.call_count == 1
    finally:
        conn.close()
