"""Every answer the emulator gives during a whole restore is valid against Looker's spec.

A restore from one emulated instance into an empty one, with an independent spec check
(`spec_responses.SpecCheckingProxy`) between the restore's Looker client and the target: the
answers a restore reads back must be shaped like Looker's, or tests pass on a world that does not
exist.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_responses import SpecCheckingProxy

from looker_emulator.extract import extract
from looker_emulator.testing import running_emulator
from restore.engine import run_session
from restore.engine.core.config import RestoreConfig
from restore.engine.looker.client import LookerClient, LookerSettings
from restore.engine.run.session import start_session
from restore.models import Backup, DeadLetterItem, Destination, RestoreItemResult

pytestmark = pytest.mark.django_db(transaction=True)


def failures() -> list[str]:
    failed = RestoreItemResult.objects.filter(action=RestoreItemResult.Action.FAILED)
    dead = DeadLetterItem.objects.all()
    return [f"{r.content_type} {r.source_id}: {r.message[:300]}" for r in failed] + [
        f"{d.content_type} {d.content_id}: {d.error_message[:300]}" for d in dead
    ]


def test_every_answer_of_a_full_restore_is_valid_against_the_spec(tmp_path: Path) -> None:
    path = tmp_path / "backup.db"
    with running_emulator(items=400, seed=15) as source:
        extract(source.url, path, shape="raw")
    backup = Backup.register(path)
    assert backup.verify(), backup.verification_error
    with running_emulator() as target, SpecCheckingProxy(target.url) as proxy:
        dest = Destination(name="checked", base_url=proxy.url, client_id=target.client_id)
        dest.set_client_secret(target.client_secret)
        dest.save()
        client = LookerClient(LookerSettings(proxy.url, target.client_id, target.client_secret))
        summary = run_session(start_session(backup, dest, RestoreConfig()).pk, client=client)
    print(f"restore: {summary}; answers checked: {proxy.answers}")
    assert summary["status"] == "completed", summary
    assert summary["failed"] == 0, failures()
    assert summary["created"] > 300, summary
    assert proxy.answers > summary["created"]
    assert dict(proxy.problems) == {}
