"""While a restore runs on SQLite, its threads' per-item statements share one connection, except
a statement inside a transaction of the thread's own, which stays in that transaction."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from restore.engine.core import row_sql
from restore.models import ItemClaim, RestoreSession

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'sqlite'"),
]


@pytest.fixture
def session(destination) -> RestoreSession:
    return RestoreSession.objects.create(destination=destination)


def claim(session: RestoreSession, source_id: str) -> int:
    values = {
        "destination": session.destination_id,
        "content_type": 5,
        "source_id": source_id,
        "session": session.pk,
    }
    return row_sql.insert(ItemClaim, values, conflict=["destination", "content_type", "source_id"])


def test_the_threads_of_a_restore_write_through_one_connection(session):
    seen: list[str] = []

    with row_sql.shared_connection():
        shared = row_sql._shared.wrapper
        assert shared is not None and shared is not connection
        shared.connection.set_trace_callback(seen.append)  # what SQLite runs on that connection

        def work(n: int) -> None:
            for i in range(25):
                assert claim(session, f"{n}-{i}") == 1
                assert row_sql.select_one(ItemClaim, ["session"], {"source_id": f"{n}-{i}"}) == {
                    "session": session.pk
                }

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert len(seen) == 4 * 25 * 2  # every statement of every thread, on the shared connection
    assert ItemClaim.objects.count() == 100  # committed: seen from this thread's own connection
    assert row_sql._shared.wrapper is None and shared.connection is None  # closed at the end


def test_a_statement_inside_a_transaction_stays_in_it(session):
    class Undo(Exception):
        pass

    with row_sql.shared_connection():
        with pytest.raises(Undo), transaction.atomic():
            assert claim(session, "inside") == 1
            raise Undo
        assert claim(session, "outside") == 1
    assert list(ItemClaim.objects.values_list("source_id", flat=True)) == ["outside"]


def test_nested_blocks_share_the_connection_until_the_last_one_ends(session):
    with row_sql.shared_connection():
        first = row_sql._shared.wrapper
        with row_sql.shared_connection():
            assert row_sql._shared.wrapper is first
        assert row_sql._shared.wrapper is first
        assert claim(session, "a") == 1
    assert row_sql._shared.wrapper is None
    assert claim(session, "b") == 1  # without a restore running: the thread's own connection
    assert ItemClaim.objects.count() == 2


def test_a_failing_statement_raises_djangos_error_and_the_connection_goes_on(session):
    values = {"destination": session.destination_id, "content_type": 5, "source_id": "x"}
    with row_sql.shared_connection():
        assert row_sql.insert(ItemClaim, {**values, "session": session.pk}) == 1
        with pytest.raises(IntegrityError):  # the same row again, no conflict clause: refused
            row_sql.insert(ItemClaim, {**values, "session": session.pk})
        assert claim(session, "y") == 1
    assert sorted(ItemClaim.objects.values_list("source_id", flat=True)) == ["x", "y"]
