"""Requests per item, by API route: a migration of a generated 600-item instance into an empty one,
the same restore again, and a restore into the source itself (nothing to change).

Run from the repository root: `PYTHONPATH=. .venv/bin/python bench/requests_per_item.py`. It counts
requests, not time, so a loaded machine does not disturb it; run it in an older checkout too
(`git worktree add /tmp/old REV`) to compare side by side.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path

TMP = Path(tempfile.mkdtemp(prefix="lv-rpi-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lookervault_web.settings")
os.environ["DATABASE_URL"] = f"sqlite:///{TMP}/db.sqlite3"
os.environ["LOOKERVAULT_DATA_DIR"] = str(TMP)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from looker_emulator.extract import extract  # noqa: E402
from looker_emulator.testing import RunningEmulator, running_emulator  # noqa: E402
from restore.engine.config import RestoreConfig  # noqa: E402
from restore.engine.looker_client import LookerClient, LookerSettings  # noqa: E402
from restore.engine.runner import run_session  # noqa: E402
from restore.engine.session import start_session  # noqa: E402
from restore.models import Backup, Destination  # noqa: E402


def destination(emu: RunningEmulator, name: str) -> Destination:
    dest = Destination(name=name, base_url=emu.url, client_id=emu.client_id)
    dest.set_client_secret(emu.client_secret)
    dest.save()
    return dest


def measure(label: str, backup: Backup, emu: RunningEmulator, dest: Destination) -> None:
    emu.reset()
    client = LookerClient(LookerSettings(emu.url, emu.client_id, emu.client_secret), in_flight=8)
    summary = run_session(start_session(backup, dest, RestoreConfig()).pk, client=client)
    routes: Counter[str] = Counter()
    for row in emu.stats()["requests"]:
        routes[row["route"]] += row["count"]
    total = sum(routes.values())
    line = {"run": label, "items": summary["total"], "requests": total}
    line["per_item"] = round(total / summary["total"], 2)
    line |= {k: summary[k] for k in ("created", "updated", "unchanged", "failed")}
    print(json.dumps(line))
    print("   ", routes.most_common(8))


def main() -> None:
    call_command("migrate", verbosity=0)
    with running_emulator(items=600, seed=2) as src, running_emulator() as empty:
        path = TMP / "backup.db"
        extract(
            src.url, path, client_id=src.client_id, client_secret=src.client_secret, shape="raw"
        )
        backup = Backup.register(path)
        assert backup.verify(), backup.verification_error
        into_empty = destination(empty, "empty")
        measure("migration", backup, empty, into_empty)
        measure("re-run", backup, empty, into_empty)
        measure("same instance, unchanged", backup, src, destination(src, "source"))


if __name__ == "__main__":
    main()
