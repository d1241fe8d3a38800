"""The parallel runner against the emulator over HTTP: migration, faults, DLQ, cancel, resume."""

from __future__ import annotations

import threading
import time

import pytest
from exec_helpers import compare, make_backup, make_destination, new_session

from looker_emulator.testing import running_emulator
from restore.engine import SessionBusy, run_session
from restore.engine.limits import retries as retry
from restore.models import DeadLetterItem, RestoreItemResult, RestoreSession

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast_retries():
    retry.set_testing(True, max_wait=0.05)
    yield
    retry.set_testing(False)


@pytest.fixture(scope="module")
def source_state():
    with running_emulator(items=300, seed=5) as emu:
        yield emu.export()


@pytest.fixture
def backup(source_state, tmp_path):
    with running_emulator(source_state) as emu:
        return make_backup(emu, tmp_path / "backup.db")


def test_it_migrates_a_backup_into_an_empty_instance_in_parallel(backup):
    with running_emulator() as emu:
        dest = make_destination(emu)
        session = new_session(backup, dest, workers=8)
        summary = run_session(session.pk)
        assert summary["status"] == "completed", summary
        assert summary["failed"] == 0, summary
        assert summary["created"] > 200
        assert compare(backup, emu, dest) == []
        session.refresh_from_db()
        assert session.progress["by_type"]["dashboard"]["done"] > 0
        assert session.checkpoints.filter(level_done=True).count() >= 10


def assert_no_duplicates(emu, dest, before: dict) -> None:
    """Every object the restores added to the emulator is in the ID map: no orphan second copy."""
    from restore.engine.core.content_types import RESTORE_ORDER
    from restore.models import IDMapping

    tables = emu.export()["tables"]
    for ct in RESTORE_ORDER:
        table = ct.slug + "s"
        added = {str(o.get("id", o.get("name"))) for o in tables[table]} - before.get(table, set())
        mapped = set(
            IDMapping.objects.filter(destination_instance=dest, content_type=int(ct)).values_list(
                "destination_id", flat=True
            )
        )
        assert added <= mapped, (table, sorted(added - mapped)[:10])


def ids_now(emu) -> dict:
    return {
        name: {str(o.get("id", o.get("name"))) for o in rows}
        for name, rows in emu.export()["tables"].items()
    }


def test_faults_end_restored_or_in_the_dlq_none_lost_none_duplicated(backup):
    with running_emulator(latency_ms=2, jitter_ms=5) as emu:
        dest = make_destination(emu)
        before = ids_now(emu)
        emu.set_faults(
            rate_limit=120,  # the emulator answers 429 + Retry-After beyond 120 requests/s
            error_rate=0.05,
            reset_rate=0.02,
            reset_after_rate=0.02,
            slow_rate=0.01,
            slow_ms=300,
            seed=7,
        )
        session = new_session(backup, dest, workers=8, max_retries=8)
        summary = run_session(session.pk)
        emu.set_faults(clear=True)
        session.refresh_from_db()
        print(summary, emu.stats()["faults"])
        assert emu.stats()["faults"], "no fault was injected"
        assert emu.stats()["by_status"].get("429"), "no 429 was answered"
        assert summary["rate_limiter"]["throttle_events"] > 0
        results = RestoreItemResult.objects.filter(session=session)
        assert results.filter(action="pending").count() == 0
        assert results.count() == session.total  # none lost
        failed = results.filter(action__in=["failed", "blocked"]).count()
        assert failed == session.dlq_items.count() == summary["failed"]
        assert_no_duplicates(emu, dest, before)
        # Run it again without faults: nothing is duplicated, everything matches the backup.
        again = new_session(backup, dest, workers=8)
        summary2 = run_session(again.pk)
        assert summary2["failed"] == 0, summary2
        assert summary2["created"] <= failed
        assert_no_duplicates(emu, dest, before)
        assert compare(backup, emu, dest) == []


def test_it_refuses_a_session_another_live_worker_holds(backup):
    with running_emulator() as emu:
        session = new_session(backup, make_destination(emu))
        RestoreSession.objects.filter(pk=session.pk).update(
            status="running",
            worker_id="other",
            heartbeat_at=__import__("django.utils.timezone").utils.timezone.now(),
        )
        with pytest.raises(SessionBusy):
            run_session(session.pk)


def test_cancel_stops_after_the_current_items_and_resume_finishes(backup):
    with running_emulator(latency_ms=20) as emu:
        dest = make_destination(emu)
        before = ids_now(emu)
        session = new_session(backup, dest, workers=4)
        results = {}

        def run():
            results["first"] = run_session(session.pk, heartbeat_interval=0.2)

        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 30
        while RestoreItemResult.objects.filter(session=session).count() < 30:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        session.cancel()
        t.join(30)
        assert results["first"]["status"] == "cancelled"
        session.refresh_from_db()
        assert session.status == "cancelled"
        done_at_cancel = RestoreItemResult.objects.filter(session=session).count()
        assert done_at_cancel < session.total
        summary = run_session(session.pk)
        assert summary["status"] == "completed"
        assert summary["failed"] == 0
        assert_no_duplicates(emu, dest, before)
        creates = emu.stats()["creates"]
        assert creates["dashboard"] == summary["by_type"]["dashboard"]["created"]
        assert compare(backup, emu, dest) == []
        assert DeadLetterItem.objects.count() == 0
