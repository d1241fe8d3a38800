"""A 429 storm slows every worker at once, and throughput comes back within 10% soon after.

Short durations here (a 3 s storm, measured up to 12 s after); `bench/rate_limit_storm.py` runs
the long version. Figures come from the emulator's own counters.
"""

from __future__ import annotations

import threading

import pytest
from exec_helpers import make_backup, make_destination, new_session
from storm import measure_storm

from looker_emulator.testing import running_emulator
from restore.engine import run_session
from restore.engine.limits import retries as retry
from restore.models import RestoreSession

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 8
RATE = 40.0


@pytest.fixture(autouse=True)
def _fast_retries():
    retry.set_testing(True, max_wait=0.05)
    yield
    retry.set_testing(False)


def test_a_429_storm_slows_all_workers_and_throughput_recovers(tmp_path):
    with running_emulator(items=300, seed=8) as src:
        backup = make_backup(src, tmp_path / "b.db")
    with running_emulator(latency_ms=10) as emu:
        dest = make_destination(emu)
        session = new_session(backup, dest, workers=WORKERS, rate_limit_per_second=RATE)
        out = {}
        runner = threading.Thread(
            target=lambda: out.setdefault(
                "summary", run_session(session.pk, heartbeat_interval=0.5)
            )
        )
        runner.start()
        try:
            report = measure_storm(emu, warmup=5.0, storm=3.0, after=12.0)
        finally:
            RestoreSession.objects.get(pk=session.pk).cancel()
            runner.join(60)
        print(report)
        assert 0.75 * RATE <= report.pre_rate <= 1.15 * RATE  # the configured rate, used
        # Every worker paused: a handful of 429s (those in flight), not 8 workers hammering.
        assert report.storm_429s <= 3 * WORKERS
        assert report.storm_rate < 0.2 * report.pre_rate
        assert report.recovered_after is not None and report.recovered_after <= 10.0
        assert report.post_rate >= 0.9 * report.pre_rate
        session.refresh_from_db()
        assert session.status == "cancelled"
        limiter = session.progress["rate_limiter"]
        assert limiter["throttle_events"] >= 1
        assert not limiter["throttled"]
        assert session.dlq_items.count() == 0  # the 429s were retried, not dead-lettered
