"""The per-item API the execution layer wraps: no retries inside, intents, adoption, outcomes."""

from __future__ import annotations

import pytest
from conftest import client_for, make_backup, make_destination

from looker_emulator.testing import running_emulator
from restore.engine.backup.reader import Selection, open_backup
from restore.engine.core.config import RestoreConfig
from restore.engine.core.errors import LookerApiError, MissingDependencyError
from restore.engine.item.restore import restore_item
from restore.engine.run.session import open_context, start_session
from restore.models import RestoreItemResult

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(tmp_path):
    with running_emulator(items=80, seed=9) as src, running_emulator() as dst:
        backup = make_backup(src, tmp_path / "b.db")
        dest = make_destination(dst)
        yield src, dst, backup, dest


def items(backup, ct):
    with open_backup(backup.path) as reader:
        return list(reader.iter_items(Selection(content_types=[ct])))


def context(backup, dest, dst, reader, **options):
    session = start_session(backup, dest, RestoreConfig(**options))
    return open_context(session, reader, client_for(dst)), session


def test_lost_create_response_is_adopted_not_duplicated(setup):
    src, dst, backup, dest = setup
    taken = {g["name"] for g in client_for(dst).get("/groups")}
    group = next(g for g in items(backup, "group") if g.content["name"] not in taken)
    with open_backup(backup.path) as reader:
        ctx, session = context(backup, dest, dst, reader)
        dst.set_faults(add_rules=[{"method": "POST", "path": "*/groups", "action": "reset_after"}])
        with pytest.raises(LookerApiError) as lost:
            restore_item(ctx, group)
        assert lost.value.kind == "connection"  # raised, not retried inside
        intent = RestoreItemResult.objects.get(session=session, source_id=group.id)
        assert intent.action == "pending"
        outcome = restore_item(ctx, group)  # what the retry/resume does
    assert outcome.action in ("updated", "unchanged")
    assert dst.stats()["creates"].get("group") == 1


def test_unresolved_reference_is_refused_not_sent_raw(setup):
    src, dst, backup, dest = setup
    look = items(backup, "look")[0]
    with open_backup(backup.path) as reader:
        ctx, _ = context(backup, dest, dst, reader)
        with pytest.raises(MissingDependencyError, match="folder_id refers to folder"):
            restore_item(ctx, look)
    assert dst.stats()["creates"] == {}


def test_explores_are_skipped_with_the_reason(setup):
    src, dst, backup, dest = setup
    explore = items(backup, "explore")[0]
    with open_backup(backup.path) as reader:
        ctx, _ = context(backup, dest, dst, reader)
        outcome = restore_item(ctx, explore)
    assert outcome.action == "skipped" and "LookML" in outcome.message


def test_owner_falls_back_and_is_reported(setup):
    src, dst, backup, dest = setup
    c = client_for(dst)
    fallback = c.post("/users", {"first_name": "Fall", "last_name": "Back"})
    c.post(f"/users/{fallback['id']}/credentials_email", {"email": "fallback@example.com"})
    look = next(i for i in items(backup, "look") if i.content.get("user_id"))
    with open_backup(backup.path) as reader:
        ctx, _ = context(
            backup,
            dest,
            dst,
            reader,
            with_dependencies=True,
            fallback_owner_email="fallback@example.com",
        )
        # the owner exists nowhere in the destination and is not restored on its own: use the fallback
        ctx.source = type(
            "NoUsers",
            (),
            {"get_item": lambda s, ct, i: None if ct == 7 else reader.get_item(ct, i)},
        )()
        outcome = restore_item(ctx, look)
    assert outcome.action == "created"
    assert any("fallback owner" in w for w in outcome.warnings)
    assert c.get(f"/looks/{outcome.destination_id}")["user_id"] == fallback["id"]


def test_skip_if_modified_reports_both_timestamps(setup):
    src, dst, backup, dest = setup
    group = items(backup, "group")[0]
    with open_backup(backup.path) as reader:
        ctx, _ = context(backup, dest, dst, reader)
        first = restore_item(ctx, group)
    client_for(dst).patch(f"/groups/{first.destination_id}", {"name": "changed since"})
    dash = items(backup, "dashboard")[0]
    with open_backup(backup.path) as reader:
        ctx, _ = context(backup, dest, dst, reader, skip_if_modified=True, with_dependencies=True)
        outcome = restore_item(ctx, dash)
        assert outcome.action == "created"
        client_for(dst).patch(f"/dashboards/{outcome.destination_id}", {"title": "edited later"})
        ctx2, _ = context(backup, dest, dst, reader, skip_if_modified=True)
        again = restore_item(ctx2, dash)
    assert again.action == "skipped"
    assert "destination updated_at" in again.message and "backup" in again.message
    assert client_for(dst).get(f"/dashboards/{outcome.destination_id}")["title"] == "edited later"


def test_verification_reports_fields_that_did_not_stick(setup):
    src, dst, backup, dest = setup
    group = items(backup, "group")[-1]
    with open_backup(backup.path) as reader:
        ctx, _ = context(backup, dest, dst, reader, verify=True)
        outcome = restore_item(ctx, group)
    assert outcome.action == "created" and outcome.verify_diff is None


def test_same_instance_owner_that_was_deleted_falls_back(tmp_path):
    with running_emulator(items=80, seed=9) as emu:
        backup = make_backup(emu, tmp_path / "b.db")
        dest = make_destination(emu)
        c = client_for(emu)
        look = next(i for i in items(backup, "look") if i.content.get("user_id") not in (None, "1"))
        c.delete(f"/users/{look.content['user_id']}")
        c.patch(f"/looks/{look.id}", {"title": "edited"})
        with open_backup(backup.path) as reader:
            ctx, _ = context(backup, dest, emu, reader)
            outcome = restore_item(ctx, look)
        assert outcome.action == "updated"
        assert any("API user owns it" in w for w in outcome.warnings)
        assert c.get(f"/looks/{look.id}")["title"] == look.content["title"]


def test_a_tile_whose_look_is_gone_everywhere_does_not_block_its_dashboard(tmp_path):
    with running_emulator(items=80, seed=9) as src, running_emulator() as dst:
        c = client_for(src)
        dash = next(
            d
            for d in (
                c.get(f"/dashboards/{x['id']}") for x in c.get("/dashboards", {"fields": "id"})
            )
            if any(e.get("look_id") for e in d["dashboard_elements"])
        )
        tile = next(e for e in dash["dashboard_elements"] if e.get("look_id"))
        c.delete(f"/looks/{tile['look_id']}")  # the tile now points at nothing, in the source too
        backup = make_backup(src, tmp_path / "b.db")
        dest = make_destination(dst)
        with open_backup(backup.path) as reader:
            ctx, _ = context(backup, dest, dst, reader, with_dependencies=True)
            outcome = restore_item(ctx, reader.get_item("dashboard", dash["id"]))
        assert outcome.action == "created"
        assert any(
            f"look {tile['look_id']}" in w and "restored without it" in w for w in outcome.warnings
        )
        restored = client_for(dst).get(f"/dashboards/{outcome.destination_id}")
        assert len(restored["dashboard_elements"]) == len(dash["dashboard_elements"])
