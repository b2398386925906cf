"""The database connections' health check: a persistent connection the server ended — a
restart, a failover, an idle timeout — is replaced before the next request's first query,
however soon after the cut that request comes (decision 0009, amended)."""

import time

import pytest
from django.db import connection, connections


def fresh_connection():
    """A connection of its own (not the test's transaction), as a worker holds one."""
    conn = connections.create_connection("default")
    conn.ensure_connection()
    return conn


def request_ends(conn) -> None:
    conn.close_if_unusable_or_obsolete()  # what Django does when a request finishes


def request_starts(conn) -> None:
    conn.close_if_health_check_failed()  # what Django does before a request's first query


@pytest.mark.parametrize("when", ["at once", "a moment later", "after a second idle"])
def test_a_connection_the_server_ended_is_replaced_before_the_next_request(db, when):
    conn = fresh_connection()
    try:
        request_ends(conn)
        cut = conn.connection.info.backend_pid
        with connection.cursor() as cursor:  # a restart, a failover, an idle timeout
            cursor.execute("SELECT pg_terminate_backend(%s)", [cut])
        time.sleep({"at once": 0, "a moment later": 0.05, "after a second idle": 1.1}[when])
        request_starts(conn)
        with conn.cursor() as cursor:  # the next request's first query
            cursor.execute("SELECT 41 + 1")
            assert cursor.fetchone() == (42,)
        assert conn.connection.info.backend_pid != cut
    finally:
        conn.close()


def test_the_first_request_after_a_cut_never_fails_however_soon(db):
    """The race the skipped check lost under load (test_faults saw a 500): twenty cuts,
    each followed at once by a request."""
    conn = fresh_connection()
    try:
        for _ in range(20):
            request_ends(conn)
            cut = conn.connection.info.backend_pid
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [cut])
            request_starts(conn)
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
            assert conn.connection.info.backend_pid != cut
    finally:
        conn.close()
