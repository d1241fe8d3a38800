"""lookervault's own `extract` backups migrate into another, empty instance: each look takes its
query from wherever the backup holds it; only what the backup holds nowhere is blocked, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import client_for, make_destination, quick, run

from restore.engine.backup.reader import Selection, open_backup
from restore.engine.core.content_types import ContentType
from restore.engine.run.session import start_session
from restore.models import Backup, RestoreItemResult

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
NESTED = {s: FIXTURES / f"lookervault-extract-nested-{s}.db" for s in ("sequential", "parallel")}
CT = ContentType


def looks_without_tile_query(path: Path) -> set[str]:
    """Looks whose query no dashboard tile of the backup embeds (worked out independently)."""
    with open_backup(path) as reader:
        embedded = {
            str(tile["look"]["query"]["id"])
            for item in reader.iter_items(Selection(content_types=[CT.DASHBOARD]))
            for tile in item.content.get("dashboard_elements") or []
            if (tile.get("look") or {}).get("query")
        }
        return {
            item.id
            for item in reader.iter_items(Selection(content_types=[CT.LOOK]))
            if str(item.content.get("query_id")) not in embedded
        }


def not_done(session_id: int) -> dict[tuple[int, str], str]:
    rows = RestoreItemResult.objects.filter(
        session_id=session_id, action__in=["failed", "blocked", "pending"]
    )
    return {(r.content_type, r.source_id): r.message for r in rows}


@pytest.mark.parametrize("style", ["parallel", "sequential"])
def test_looks_take_their_query_from_the_backups_tiles(style, empty_emu):
    backup = Backup.register(NESTED[style])
    assert backup.verify(), backup.verification_error
    dest = make_destination(empty_emu)
    summary = run(start_session(backup, dest, quick()), client_for(empty_emu))
    left = not_done(summary["session_id"])
    lacking = looks_without_tile_query(NESTED[style])
    blocked_looks = {sid for (ct, sid) in left if ct == CT.LOOK}
    assert blocked_looks == lacking, left
    for (ct, sid), message in left.items():
        if ct == CT.LOOK:
            assert "the query is not in this backup; name the source instance" in message
        else:  # items that show or schedule a blocked look, and say which
            assert any(f"look {look}" in message for look in lacking), (ct, sid, message)
    assert summary["by_type"]["look"]["created"] == 36 - len(lacking)
    waiting = len(left) - len(lacking)
    (reason,) = summary["blocked_reasons"]
    assert reason == {
        "text": f"{len(lacking)} looks need their query: it is not in this backup; name the "
        f"source instance to read it — {waiting} more item{'s' if waiting != 1 else ''} "
        f"wait{'s' if waiting == 1 else ''} on them",
        "items": len(lacking),
        "waiting": waiting,
        "needs_source": True,
    }


def test_a_plan_says_which_looks_need_their_query_and_what_waits_on_them(empty_emu):
    backup = Backup.register(NESTED["sequential"])
    assert backup.verify(), backup.verification_error
    plan = run(start_session(backup, make_destination(empty_emu), quick(dry_run=True)))
    lacking = looks_without_tile_query(NESTED["sequential"])
    (reason,) = plan["blocked_reasons"]
    assert reason["text"].startswith(f"{len(lacking)} looks need their query: it is not in")
    assert reason["needs_source"] and reason["items"] == len(lacking)
    assert empty_emu.stats()["creates"] == {}


NESTED_STATE = FIXTURES / "lookervault-extract-nested-source-state.json"


EXTRACTS = {
    **{f"nested-{s}": (path, NESTED_STATE) for s, path in NESTED.items()},
    **{
        s: (
            FIXTURES / f"lookervault-extract-{s}.db",
            FIXTURES / "lookervault-extract-source-state.json",
        )
        for s in ("sequential", "parallel")
    },
}


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_with_the_source_named_every_look_arrives_and_the_source_is_only_read(name, empty_emu):
    from looker_emulator.testing import running_emulator

    path, state = EXTRACTS[name]
    backup = Backup.register(path)
    assert backup.verify(), backup.verification_error
    with running_emulator(state) as origin:
        source = make_destination(origin, "origin")
        config = quick(source_destination_id=source.pk)
        summary = run(start_session(backup, make_destination(empty_emu), config))
        assert not_done(summary["session_id"]) == {}
        requests = origin.stats()["requests"]
        assert [r for r in requests if r["method"] != "GET" and "login" not in r["route"]] == []
        reads = sum(r["count"] for r in requests if r["route"].endswith("/queries/{query_id}"))
        assert reads == len(looks_without_tile_query(path))  # each read once


def test_a_source_without_the_query_blocks_only_the_items_needing_it(empty_emu):
    from looker_emulator.testing import running_emulator

    backup = Backup.register(NESTED["sequential"])
    assert backup.verify(), backup.verification_error
    lacking = looks_without_tile_query(NESTED["sequential"])
    with running_emulator() as origin:  # an instance that has none of these queries
        source = make_destination(origin, "origin")
        config = quick(source_destination_id=source.pk)
        summary = run(start_session(backup, make_destination(empty_emu), config))
    left = not_done(summary["session_id"])
    assert {sid for (ct, sid) in left if ct == CT.LOOK} == lacking
    for (ct, _), message in left.items():
        if ct == CT.LOOK:
            assert "the source instance origin has none (404)" in message
    assert summary["by_type"]["dashboard"]["created"] == 52
