"""Server time of every list page with big data: a 50,000-item backup, a 50,000-item session with
5,000 DLQ items, 50,000 ID mappings. Also the live-progress poll (target < 20 ms).

Runs in-process with Django's test client against a throwaway SQLite data dir, so the figure is
the server's own time (URL routing, auth, queries, template rendering), not the network's.
The last line is parseable:

    web_pages worst_list_ms=123.4 progress_poll_ms=4.5 pages=N
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURE = ROOT.parent / "shared" / "fixtures" / "lookervault-0.1.0-parallel.db"


def make_backup(path: Path, items: int) -> None:
    """A lookervault-schema backup with `items` dashboards/looks cloned from the fixture's rows."""
    shutil.copy(FIXTURE, path)
    db = sqlite3.connect(path)
    templates = db.execute(
        "SELECT content_type, name, owner_id, owner_email, created_at, updated_at, synced_at,"
        " content_size, content_data, folder_id FROM content_items WHERE content_type IN (1, 2)"
    ).fetchall()
    rows = []
    for i in range(items):
        ct, name, *rest = templates[i % len(templates)]
        rows.append((str(100_000 + i), ct, f"{name} {i}", *rest))
    db.executemany(
        "INSERT INTO content_items (id, content_type, name, owner_id, owner_email, created_at,"
        " updated_at, synced_at, content_size, content_data, folder_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    db.close()


def populate(items: int, dlq: int) -> dict:
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from restore import roles
    from restore.engine.core.content_types import ContentType
    from restore.models import (
        Backup,
        DeadLetterItem,
        Destination,
        IDMapping,
        RestoreItemResult,
        RestoreSession,
    )

    user = User.objects.create_user("bench", "bench@example.com", "pw")
    user.groups.add(Group.objects.get(name=roles.RESTORE_ADMIN))
    path = Path(os.environ["LOOKERVAULT_DATA_DIR"]) / "big.db"
    make_backup(path, items)
    backup = Backup.objects.create(
        name="big.db",
        path=str(path),
        status=Backup.Status.VERIFIED,
        item_counts={"dashboard": items // 2, "look": items // 2},
        source_instance="https://src",
    )
    dest = Destination(name="prod", base_url="https://dest.example.com", client_id="x")
    dest.set_client_secret("s")
    dest.save()
    for _ in range(300):
        RestoreSession.objects.create(
            backup=backup,
            destination=dest,
            started_by=user,
            status="completed",
            total=10,
            created=10,
        )
    session = RestoreSession.objects.create(
        backup=backup,
        destination=dest,
        started_by=user,
        status="running",
        total=items,
        created=items - dlq,
        failed=dlq,
        heartbeat_at=timezone.now(),
        progress={
            "total": items,
            "by_type": {
                "dashboard": {"total": items // 2, "done": items // 4},
                "look": {"total": items // 2, "done": items // 2},
            },
            "throughput": 120.0,
            "eta_seconds": 100,
            "rate_limiter": {"rate_per_second": 10},
            "throughput_series": list(range(120)),
            "recent_errors": [
                {"content_id": str(i), "http_status": 503, "message": "down"} for i in range(10)
            ],
        },
    )
    batch = 5000
    for start in range(0, items, batch):
        RestoreItemResult.objects.bulk_create(
            RestoreItemResult(
                session=session,
                content_type=ContentType.DASHBOARD if i % 2 else ContentType.LOOK,
                source_id=str(100_000 + i),
                name=f"Item {i}",
                action="failed" if i < dlq else ("created" if i % 3 else "updated"),
                destination_id=str(i),
                diff=[{"method": "PATCH", "path": "/x", "fields": {"title": ["a", "b"]}}],
            )
            for i in range(start, min(items, start + batch))
        )
        IDMapping.objects.bulk_create(
            IDMapping(
                source_instance="https://src",
                destination_instance=dest,
                session=session,
                content_type=ContentType.DASHBOARD if i % 2 else ContentType.LOOK,
                source_id=str(100_000 + i),
                destination_id=str(i),
            )
            for i in range(start, min(items, start + batch))
        )
    DeadLetterItem.objects.bulk_create(
        DeadLetterItem(
            session=session,
            content_type=ContentType.DASHBOARD,
            content_id=str(100_000 + i),
            name=f"Item {i}",
            error_message=f"HTTP {429 if i % 2 else 503}: try later " * 3,
            error_class="LookerApiError",
            http_status=429 if i % 2 else 503,
            content_blob=b"\x80" * 2000,
            response_body="{}" * 200,
            stack_trace="trace\n" * 40,
        )
        for i in range(dlq)
    )
    return {"user": user, "backup": backup, "session": session, "dest": dest}


def measure(client, url: str, runs: int) -> float:
    client.get(url)  # warm caches (templates, SQLite pages)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url, HTTP_HX_REQUEST="true" if "progress" in url else None)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code in (200, 286), (url, response.status_code)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--dlq", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="web-bench-"))
    os.environ["LOOKERVAULT_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lookervault_web.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    objs = populate(args.items, args.dlq)
    print(f"populated in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    client = Client()
    client.force_login(objs["user"])
    b, s = objs["backup"].pk, objs["session"].pk
    pages = {
        "home": "/",
        "backups": "/backups/",
        "backup items p1": f"/backups/{b}/",
        "backup items search": f"/backups/{b}/?search=dashboard+4999",
        "backup items p100": f"/backups/{b}/?page=100",
        "backup items p1000 (last)": f"/backups/{b}/?page=1000",
        "history": "/history/",
        "history p5": "/history/?page=5",
        "session results": f"/sessions/{s}/",
        "session results failed": f"/sessions/{s}/?action=failed",
        "session results p500": f"/sessions/{s}/?page=500",
        "dlq": "/dlq/",
        "dlq filtered": "/dlq/?http_status=429&q=Item",
        "dlq p90": "/dlq/?page=90",
        "dlq triage": "/dlq/triage/",
        "mappings": "/mappings/",
        "mappings search": "/mappings/?q=100042",
        "mappings p900": "/mappings/?page=900",
    }
    results = {}
    for label, url in pages.items():
        results[label] = measure(client, url, args.runs)
        print(f"{label:28s} {results[label]:8.1f} ms  {url}")
    poll = measure(client, f"/sessions/{s}/progress/", args.runs * 3)
    print(f"{'progress poll':28s} {poll:8.1f} ms")
    shutil.rmtree(data_dir, ignore_errors=True)
    worst = max(results.values())
    print(f"web_pages worst_list_ms={worst:.1f} progress_poll_ms={poll:.1f} pages={len(results)}")


if __name__ == "__main__":
    main()
