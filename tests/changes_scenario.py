"""Three lookervault backups of one instance, taken between known changes.

backup 1 → (dashboard renamed, look renamed, a tile added to another dashboard and one removed)
→ backup 2 → (the dashboard renamed again, the renamed look moved to another folder, a filter's
default changed on the tiled dashboard, a look deleted, a new dashboard) → backup 3.
The instance keeps serving after backup 3, so a drift check can read it live.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from looker_emulator.extract import extract
from looker_emulator.testing import RunningEmulator, running_emulator
from restore.engine.looker.client import LookerClient, LookerSettings


@dataclass
class Scenario:
    emu: RunningEmulator
    paths: list[Path] = field(default_factory=list)
    renamed_dashboard: str = ""
    titles: list[str] = field(default_factory=list)  # the renamed dashboard's three titles
    renamed_look: str = ""
    tiled_dashboard: str = ""
    tile_added: str = ""
    tile_removed: str = ""
    tile_removed_title: str = ""
    deleted_look: str = ""
    new_dashboard: str = ""
    look_folders: list[str] = field(default_factory=list)  # the moved look's folders: names
    look_folder_ids: list[str] = field(default_factory=list)
    filter_title: str = ""  # the tiled dashboard's filter whose default changed to "30 days"
    filter_default: str = ""  # ...from this


def take(scenario: Scenario, directory: Path) -> None:
    path = directory / f"nightly-{len(scenario.paths) + 1}.db"
    emu = scenario.emu
    extract(emu.url, path, client_id=emu.client_id, client_secret=emu.client_secret)
    scenario.paths.append(path)


def live_looks(client: LookerClient) -> list[dict[str, Any]]:
    return client.get("/looks/search", {"fields": "id,title", "limit": 500})


def build(emu: RunningEmulator, directory: Path) -> Scenario:
    s = Scenario(emu)
    client = LookerClient(LookerSettings(emu.url, emu.client_id, emu.client_secret), in_flight=2)
    dashboards = client.get("/dashboards/search", {"fields": "id,title,folder_id", "limit": 500})
    with_tiles = [
        d
        for d in (client.get(f"/dashboards/{x['id']}") for x in dashboards[:20])
        if len(d.get("dashboard_elements") or []) >= 2
    ]
    first, tiled = dashboards[0], with_tiles[-1]
    s.renamed_dashboard, s.tiled_dashboard = str(first["id"]), str(tiled["id"])
    looks = live_looks(client)
    s.renamed_look, s.deleted_look = str(looks[0]["id"]), str(looks[-1]["id"])
    s.titles = [first["title"], "Revenue (renamed)", "Revenue, final"]
    take(s, directory)

    client.patch(f"/dashboards/{s.renamed_dashboard}", {"title": s.titles[1]})
    client.patch(f"/looks/{s.renamed_look}", {"title": "Orders, renamed"})
    removed = tiled["dashboard_elements"][0]
    s.tile_removed, s.tile_removed_title = str(removed["id"]), removed.get("title") or ""
    client.delete(f"/dashboard_elements/{s.tile_removed}")
    added = client.post(
        "/dashboard_elements",
        {"dashboard_id": s.tiled_dashboard, "type": "text", "title_text": "Added note"},
    )
    s.tile_added = str(added["id"])
    take(s, directory)

    client.patch(f"/dashboards/{s.renamed_dashboard}", {"title": s.titles[2]})
    move_look(client, s)
    flt = tiled["dashboard_filters"][0]  # the scenario's seed gives the tiled dashboard one
    s.filter_title, s.filter_default = flt["title"], flt.get("default_value") or ""
    client.patch(f"/dashboard_filters/{flt['id']}", {"default_value": "30 days"})
    client.delete(f"/looks/{s.deleted_look}")
    new = client.post("/dashboards", {"title": "Brand new", "folder_id": first["folder_id"]})
    s.new_dashboard = str(new["id"])
    take(s, directory)
    client.close() if hasattr(client, "close") else None
    return s


def move_look(client: LookerClient, s: Scenario) -> None:
    """The renamed look into another folder (of a different name), the names kept."""
    look = client.get(f"/looks/{s.renamed_look}")
    folders = client.get("/folders/search", {"fields": "id,name", "limit": 500})
    names = {str(f["id"]): f["name"] for f in folders}
    was = str(look["folder_id"])
    to = next(f for f, n in names.items() if f != was and n != names[was] and n != "Users")
    client.patch(f"/looks/{s.renamed_look}", {"folder_id": to})
    s.look_folder_ids, s.look_folders = [was, to], [names[was], names[to]]


def record_drift(session: Any, client: LookerClient) -> None:
    """Result rows of a drift session from the drift check's own functions (`check_drift`), for
    pages that show a finished check."""
    from restore.engine.backup.reader import open_backup
    from restore.engine.core.documents import Diff, store
    from restore.engine.identity.drift import ACTION_OF, check_drift
    from restore.models import RestoreItemResult

    with open_backup(session.backup.path) as reader:
        report = check_drift(reader, client)
    RestoreItemResult.objects.bulk_create(
        RestoreItemResult(
            session=session,
            content_type=int(f.content_type),
            source_id=f.id,
            destination_id=f.id,
            name=f.title,
            action=ACTION_OF[f.kind],
            message=f.message,
            diff=store(Diff(changes=f.changes)) if f.changes else None,
        )
        for f in report.findings
    )
    counts = Counter(ACTION_OF[f.kind] for f in report.findings)
    type(session).objects.filter(pk=session.pk).update(
        status="completed", total=len(report.findings), **counts
    )
    session.refresh_from_db()


@pytest.fixture(scope="module", name="scenario")
def scenario_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    """The three backups of a small instance (60 items), the instance still serving."""
    with running_emulator(items=60, seed=11) as emu:
        yield build(emu, tmp_path_factory.mktemp("nightly"))


def register(paths: list[Path], *, named: bool = False) -> list[Any]:
    """The backups registered and verified (`named`: as nightly-2026-11-0N.db)."""
    from restore.models import Backup

    out = []
    for n, path in enumerate(paths, 1):
        backup = Backup.register(path, name=f"nightly-2026-11-0{n}.db" if named else "")
        assert backup.verify(), backup.verification_error
        out.append(backup)
    return out


def requests_by_method(emu: RunningEmulator) -> Counter:
    """Requests the emulator answered so far, by method (logins left out)."""
    counts: Counter = Counter()
    for r in emu.stats()["requests"]:
        if not r["route"].endswith(("/login", "/logout")):
            counts[r["method"]] += r["count"]
    return counts


def finished_drift(scenario: Scenario, backup: Any, destination_name: str) -> Any:
    """A drift session of `backup` against the live instance, its findings recorded."""
    from restore.engine import start_drift
    from restore.models import Destination

    emu = scenario.emu
    dest = Destination(name=destination_name, base_url=emu.url, client_id=emu.client_id)
    dest.set_client_secret(emu.client_secret)
    dest.save()
    drift = start_drift(backup, dest)
    record_drift(drift, LookerClient(LookerSettings(emu.url, emu.client_id, emu.client_secret)))
    return drift
