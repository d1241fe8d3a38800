"""Applying a saved plan on the production runners, against the emulator over HTTP: a planned
create that the destination now has is shown before anything is written, and the distributed
runner restores exactly the planned items, as the one-process runner does."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import client_for, make_destination, quick, run
from django.urls import reverse
from django_q.conf import Conf

from looker_emulator.testing import running_emulator
from restore.engine.backup.reader import open_backup
from restore.engine.core.content_types import ContentType
from restore.engine.kinds.apply import start_apply
from restore.engine.run.runner import FINAL_ACTIONS
from restore.engine.run.session import start_session
from restore.models import RestoreSession
from restore.tasks import run_distributed_session_task

pytestmark = pytest.mark.django_db(transaction=True)

CT = ContentType


def writes(emu) -> int:
    return sum(
        r["count"]
        for r in emu.stats()["requests"]
        if r["method"] != "GET" and not r["route"].endswith(("/login", "/logout"))
    )


def planned(plan: RestoreSession) -> set[tuple[int, str]]:
    rows = plan.results.filter(action__in=("created", "updated"))
    return set(rows.values_list("content_type", "source_id"))


def restored(session: RestoreSession) -> set[tuple[int, str]]:
    rows = session.results.filter(action__in=FINAL_ACTIONS).exclude(action="unchanged")
    return set(rows.values_list("content_type", "source_id"))


def plan_one_dashboard(backup, dest, emu, dashboard_id: str) -> RestoreSession:
    selection = {"content_types": [int(CT.DASHBOARD)], "ids": [dashboard_id]}
    plan = start_session(
        backup, dest, quick(dry_run=True, with_dependencies=True, selection=selection)
    )
    assert run(plan, client_for(emu))["failed"] == 0
    return RestoreSession.objects.get(pk=plan.pk)


def test_a_planned_create_the_destination_now_has_is_shown_before_any_write(
    source_emu, empty_emu, backup_factory, admin_client
):
    backup = backup_factory(source_emu)
    dest = make_destination(empty_emu)
    with open_backup(backup.path) as reader:
        dashboard = first_dashboard(reader, "folder_id")
        plan = plan_one_dashboard(backup, dest, empty_emu, dashboard.id)
        # The planned folder whose parent the destination has already (a system folder).
        creates = {sid for ct, sid in planned(plan) if ct == int(CT.FOLDER)}
        folder = next(
            f
            for f in (reader.get_item(CT.FOLDER, sid) for sid in creates)
            if str(f.content["parent_id"]) not in creates
        )
        parent = reader.get_item(CT.FOLDER, str(folder.content["parent_id"])).content
    # Meanwhile someone creates a folder of that name under the same (system) parent.
    client = client_for(empty_emu)
    assert parent["is_shared_root"]
    shared = client.get("/folders/search", {"is_shared_root": "true"})[0]["id"]
    name = folder.content["name"]
    other = client.post("/folders", {"name": name, "parent_id": shared})
    before = writes(empty_emu)

    applied = start_apply(plan)
    result = run(applied, client_for(empty_emu))
    applied.refresh_from_db()
    assert applied.status == RestoreSession.Status.FAILED, result
    assert writes(empty_emu) == before  # nothing written
    listed = applied.summary["changed_since_plan"]
    assert (
        f"folder '{name}' (backup {folder.id}): the plan would create it, but "
        f"the destination now has folder '{name}' ({other['id']}), same name "
        "under the same parent"
    ) in listed, listed
    assert "Plan again, or apply anyway" in applied.error_message
    page = admin_client.get(reverse("session_detail", args=[applied.pk])).content.decode()
    assert "Not applied: 1 object changed or appeared since plan" in page
    assert "the plan would create it, but the destination now has folder" in page
    assert f"Apply plan {plan.pk} anyway" in page

    # Applied anyway: the folder found by its name is taken, not created a second time.
    anyway = start_apply(plan, confirm_changed=True)
    assert run(anyway, client_for(empty_emu))["status"] == "completed"
    same_name = client.get("/folders/search", {"name": name, "parent_id": shared})
    assert [f["id"] for f in same_name] == [other["id"]]


def test_the_distributed_runner_applies_exactly_what_the_one_process_runner_applies(
    source_emu, backup_factory, monkeypatch
):
    """A selection by IDs matches every selected type: the folder level, run as one chunk task,
    must still take only the planned folders, not a folder that shares a planned item's ID."""
    backup = backup_factory(source_emu)
    with open_backup(backup.path) as reader:
        folders = {f.id for f in reader.iter_items({"content_types": [int(CT.FOLDER)]})}
        dashboard = next(
            d
            for d in reader.iter_items({"content_types": [int(CT.DASHBOARD)]})
            if d.id in folders and str(d.content.get("folder_id")) != d.id
        )
    applied = {}
    for way in ("one process", "distributed"):
        with running_emulator() as emu:
            plan = plan_one_dashboard(backup, make_destination(emu, way), emu, dashboard.id)
            assert (int(CT.FOLDER), dashboard.id) not in planned(plan)
            session = start_apply(plan)
            if way == "one process":
                run(session, client_for(emu))
            else:
                # The chunk tasks run in this process (django-q2's sync mode), on the production
                # code path: coordinator, chunk tasks, level barriers.
                monkeypatch.setattr(Conf, "SYNC", True)
                run_distributed_session_task(session.pk, chunk_size=2)
        session.refresh_from_db()
        assert session.status == RestoreSession.Status.COMPLETED, session.error_message
        applied[way] = rows(session)
        assert restored(session) == planned(plan)
        folders_written = {sid for ct, sid, _ in applied[way] if ct == int(CT.FOLDER)}
        assert folders_written == {sid for ct, sid in planned(plan) if ct == int(CT.FOLDER)}
    assert applied["distributed"] == applied["one process"]


def first_dashboard(reader, *fields: str):
    """The backup's first dashboard that holds every one of `fields`."""
    return next(
        d
        for d in reader.iter_items({"content_types": [int(CT.DASHBOARD)]})
        if all(d.content.get(f) for f in fields)
    )


def rows(session: RestoreSession) -> set[tuple[int, str, str]]:
    return set(session.results.values_list("content_type", "source_id", "action"))


def test_a_planned_dashboard_whose_slug_is_taken_since_is_shown(
    source_emu, empty_emu, backup_factory
):
    backup = backup_factory(source_emu)
    dest = make_destination(empty_emu)
    with open_backup(backup.path) as reader:
        dashboard = first_dashboard(reader, "folder_id", "slug")
    plan = plan_one_dashboard(backup, dest, empty_emu, dashboard.id)
    assert (int(CT.DASHBOARD), dashboard.id) in planned(plan)
    client = client_for(empty_emu)
    shared = client.get("/folders/search", {"is_shared_root": "true"})[0]["id"]
    slug = dashboard.content["slug"]
    other = client.post(
        "/dashboards", {"title": "Someone else's", "folder_id": shared, "slug": slug}
    )
    before = writes(empty_emu)

    applied = start_apply(plan)
    run(applied, client_for(empty_emu))
    applied.refresh_from_db()
    assert applied.status == RestoreSession.Status.FAILED
    assert writes(empty_emu) == before
    title = dashboard.content["title"]
    assert (
        f"dashboard '{title}' (backup {dashboard.id}): the plan would create it, but the "
        f"destination now has dashboard 'Someone else's' ({other['id']}) holding its slug '{slug}'"
    ) in applied.summary["changed_since_plan"], applied.summary["changed_since_plan"]


def test_a_finished_apply_reads_all_its_items_done_with_one_total_on_the_page(
    source_emu, empty_emu, backup_factory, admin_client
):
    """The apply's selection names each planned item with its type: a folder that shares a
    planned dashboard's ID is not counted. Header, Run panel, summary table and summary CSV give
    one total, and the counts add up to it."""
    backup = backup_factory(source_emu)
    dest = make_destination(empty_emu)
    with open_backup(backup.path) as reader:
        dashboard = first_dashboard(reader, "folder_id")
    plan = plan_one_dashboard(backup, dest, empty_emu, dashboard.id)
    items = len(planned(plan))
    assert items > 1  # the dashboard and the folders it needs
    applied = start_apply(plan)
    assert run(applied, client_for(empty_emu))["status"] == "completed"
    applied.refresh_from_db()
    # Every planned item, and any dependency met on the way (found as it is: unchanged).
    assert applied.total == applied.done_count >= items
    items = applied.total

    page = admin_client.get(reverse("session_detail", args=[applied.pk])).content.decode()
    assert f"{items} of {items} items done" in page
    assert f"All {items} items restored" in page
    assert f"{applied.created} created" in page
    csv_text = admin_client.get(reverse("session_summary_csv", args=[applied.pk]))
    rows = list(
        csv.reader(
            io.StringIO(
                b"".join(csv_text.streaming_content).decode()
                if csv_text.streaming
                else csv_text.content.decode()
            )
        )
    )
    header, *per_type = rows[: rows.index(next(r for r in rows if r and r[0] == "all")) + 1]
    *types, everything = per_type
    assert header[:2] == ["type", "total"]
    assert int(everything[1]) == items == sum(int(v) for v in everything[2:7])
    assert sum(int(r[1]) for r in types) == items
    for r in types:
        assert int(r[1]) == sum(int(v) for v in r[2:7])
