"""The lease (one winner per claim, stale sessions taken over), the summary exports, the progress bar."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from restore.cli.foreground import ProgressBar
from restore.engine.core import documents
from restore.engine.run.runner import claim_session, session_is_stale, summary_csv
from restore.models import Destination, RestoreSession

pytestmark = pytest.mark.django_db(transaction=True)


def make_session(**fields) -> RestoreSession:
    dest = Destination.objects.first()
    if dest is None:
        dest = Destination(name="d", base_url="http://127.0.0.1:1", client_id="x")
        dest.set_client_secret("x")
        dest.save()
    return RestoreSession.objects.create(destination=dest, **fields)


def test_exactly_one_of_many_concurrent_claims_wins():
    session = make_session()
    wins = []
    barrier = threading.Barrier(8)

    def claim(n: int) -> None:
        barrier.wait()
        if claim_session(session.pk, f"worker-{n}"):
            wins.append(n)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(wins) == 1
    session.refresh_from_db()
    assert session.worker_id == f"worker-{wins[0]}"
    assert session.status == "running"


def test_a_live_lease_is_kept_and_a_stale_one_taken_over(settings):
    settings.LOOKERVAULT_LEASE_SECONDS = 30
    session = make_session(status="running", worker_id="a", heartbeat_at=timezone.now())
    assert not session_is_stale(session)
    assert not claim_session(session.pk, "b")
    RestoreSession.objects.filter(pk=session.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=31)
    )
    session.refresh_from_db()
    assert session_is_stale(session)
    assert claim_session(session.pk, "b")
    assert not claim_session(session.pk, "c")


def test_completed_sessions_are_not_claimed():
    session = make_session(status="completed")
    assert not claim_session(session.pk, "x")


def test_summary_csv_has_a_row_per_type_a_total_and_the_error_classes():
    summary = documents.Summary(
        total=5,
        created=2,
        updated=1,
        skipped=1,
        failed=1,
        by_type={
            "look": documents.Counts(created=2, failed=1),
            "folder": documents.Counts(updated=1, skipped=1),
        },
        by_error_class={"LookerApiError 422": 1},
    )
    rows = list(csv.reader(io.StringIO(summary_csv(summary))))
    assert rows[0] == ["type", "total", "created", "updated", "unchanged", "skipped", "failed"]
    assert rows[1] == ["look", "3", "2", "0", "0", "0", "1"]
    assert rows[3] == ["all", "5", "2", "1", "0", "1", "1"]
    assert ["LookerApiError 422", "1"] in rows


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal_only():
    doc = documents.Progress(total=10, done=5, created=5, throughput=2.5, eta_seconds=2)
    tty, pipe = Tty(), io.StringIO()
    ProgressBar(tty)(doc)
    ProgressBar(pipe)(doc)
    assert "5/10" in tty.getvalue() and "eta 2s" in tty.getvalue()
    assert pipe.getvalue() == ""
