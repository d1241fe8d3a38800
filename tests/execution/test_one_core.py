"""A running restore keeps its threads on one CPU core, gives the thread back its mask at the end,
and moves to another core when other work takes its own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from exec_helpers import client_for, compare, make_backup, make_destination, new_session

from looker_emulator.testing import running_emulator
from restore.engine.kinds import kind_for
from restore.engine.limits import one_core
from restore.engine.run.runner import SessionRunner

ALLOWED = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
pytestmark = pytest.mark.skipif(len(ALLOWED) < 2, reason="needs CPU affinity and two cores")


def mask_of(tid: int) -> set[int]:
    return os.sched_getaffinity(tid)


def test_threads_started_inside_keep_to_the_core_and_the_mask_comes_back():
    seen: list[set[int]] = []
    with one_core.one_core():
        pinned = mask_of(0)
        with one_core.one_core():  # nested: the same core
            assert mask_of(0) == pinned
        assert mask_of(0) == pinned
        worker = threading.Thread(target=lambda: seen.append(mask_of(0)))
        worker.start()
        worker.join(30)
    assert len(pinned) == 1 and pinned <= ALLOWED
    assert seen == [pinned]
    assert mask_of(0) == ALLOWED


def test_turned_off_nothing_changes(settings):
    settings.LOOKERVAULT_ONE_CORE = False
    with one_core.one_core():
        assert mask_of(0) == ALLOWED


@pytest.mark.django_db(transaction=True)
def test_every_request_of_a_restore_is_sent_from_a_thread_on_one_core(tmp_path):
    masks: list[frozenset[int]] = []

    def record(method, path, body):
        masks.append(frozenset(mask_of(0)))

    with running_emulator(items=60, seed=3) as src:
        backup = make_backup(src, tmp_path / "b.db")
    with running_emulator() as emu:
        dest = make_destination(emu, "pinned")
        client = client_for(emu)
        client.add_observer(record)
        session = new_session(backup, dest, workers=8)
        summary = SessionRunner(session.pk, kind_for=kind_for, client=client).run()
        assert summary["status"] == "completed" and summary["failed"] == 0, summary
        assert compare(backup, emu, dest) == []
    assert len(masks) > 100
    assert len(set(masks)) == 1 and len(next(iter(masks))) == 1, set(masks)
    assert mask_of(0) == ALLOWED  # the thread that ran it has its mask back


@pytest.mark.parametrize(
    ("busy", "own", "expected"),
    [
        ({0: 1.0, 1: 0.1}, 0.9, None),  # the core is busy with this process alone: stay
        ({0: 1.0, 1: 0.1}, 0.0, 1),  # other work holds it, the other core is free: move
        ({0: 1.0, 1: 0.8}, 0.0, None),  # the other core is hardly better: stay
        ({0: 0.9, 1: 0.6, 2: 0.2}, 0.3, 2),  # the least busy of the others
        ({0: 1.0}, 0.0, None),  # no other core
    ],
)
def test_when_to_move(busy, own, expected):
    assert one_core.better_core(0, busy, own) == expected


def test_it_leaves_a_core_that_other_work_keeps_busy(monkeypatch):
    """A busy process pinned to the restore's core: the restore's threads move off it, the
    thread it runs in and those it started alike; other threads keep their mask."""
    monkeypatch.setattr(one_core, "MARGIN", 0.2)
    bystander_mask: list[set[int]] = []
    bystander_go = threading.Event()

    def bystander() -> None:
        bystander_go.wait(60)
        bystander_mask.append(mask_of(0))

    outside = threading.Thread(target=bystander)
    outside.start()
    with one_core.one_core():
        core = next(iter(mask_of(0)))
        stop = threading.Event()
        inside = threading.Thread(target=stop.wait, args=(120,))
        inside.start()
        straggler = threading.Thread(target=stop.wait, args=(120,))
        burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            os.sched_setaffinity(burner.pid, {core})
            deadline = time.monotonic() + 60
            while mask_of(0) == {core} and time.monotonic() < deadline:
                stop.wait(0.2)  # let the burner's load show in /proc/stat
                one_core._pin.next_check = 0.0
                one_core.maybe_move()
            moved = mask_of(0)
            assert moved != {core} and len(moved) == 1, moved
            assert mask_of(inside.native_id) == moved
            # A thread started while the move ran may have copied the core before: the next
            # move takes it along too.
            straggler.start()
            os.sched_setaffinity(straggler.native_id, {core})
            assert one_core._move(next(iter(moved)))
            assert mask_of(straggler.native_id) == moved
        finally:
            burner.kill()
            burner.wait(30)
            stop.set()
            inside.join(30)
            if straggler.ident is not None:
                straggler.join(30)
    bystander_go.set()
    outside.join(30)
    assert bystander_mask == [ALLOWED]
    assert mask_of(0) == ALLOWED
