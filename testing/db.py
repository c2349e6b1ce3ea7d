"""What PostgreSQL says about the test's own connections: events a test can wait for instead of a clock.

    wait_until(backend_waiting_on_a_lock, timeout=60, message="the opt-out to wait on the send's lock")
    backends_terminate("w1")   # pg_terminate_backend on every connection of the process named w1
"""

from django.db import connection


def backend_waiting_on_a_lock() -> int | None:
    """The pid of another connection to this database that is waiting for a row or table lock, or None."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def backends_named(application_name: str, *, in_transaction: bool = False) -> list[int]:
    """Pids of the connections a process opened under `application_name` (set in its DATABASE_URL)."""
    states = ("idle in transaction", "active") if in_transaction else None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
            [application_name],
        )
        return [pid for pid, state in cursor.fetchall() if states is None or state in states]


def backends_terminate(pids: list[int]) -> int:
    """`pg_terminate_backend` each pid: the connection dies under its process, mid-transaction if it is in one."""
    with connection.cursor() as cursor:
        return sum(bool(cursor.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]) for pid in pids)


def database_url_named(url: str, application_name: str) -> str:
    """`url` with an application_name, so the test can find that process's connections."""
    return url + ("&" if "?" in url else "?") + f"application_name={application_name}"
