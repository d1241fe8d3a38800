"""What changed, offline: lineage, an item's history and two backups compared, on three real
lookervault-shaped backups of one emulator instance taken between known changes."""

from __future__ import annotations

import json
from collections import Counter
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from changes_scenario import Scenario, register, requests_by_method, scenario_fixture  # noqa: F401
from conftest import client_for, make_destination, quick, run
from django.core.management import call_command

from looker_emulator.extract import extract
from looker_emulator.testing import running_emulator
from restore.engine import lineages

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
OTHER_INSTANCE = FIXTURES / "lookervault-extract-parallel.db"


def command(*args: str) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def keys(entries: list[dict]) -> set[tuple[str, str]]:
    return {(e["type"], e["id"]) for e in entries}


def test_backups_of_one_instance_form_one_lineage_in_extraction_order(scenario: Scenario) -> None:
    # registered out of order, and beside a backup of another instance
    b3, b1, other, b2 = register(
        [scenario.paths[2], scenario.paths[0], OTHER_INSTANCE, scenario.paths[1]]
    )
    groups = lineages()
    ours = next(g for g in groups if b1 in g.backups)
    assert [b.pk for b in ours.backups] == [b1.pk, b2.pk, b3.pk]
    assert other not in ours.backups
    assert any(g.backups == [other] for g in groups)


def test_backups_diff_lists_exactly_the_changes(scenario: Scenario) -> None:
    b1, b2, b3 = register(scenario.paths)
    doc = command("backups", "diff", str(b1.pk), str(b3.pk))
    assert keys(doc["added"]) == {("dashboard", scenario.new_dashboard)}
    assert keys(doc["removed"]) == {("look", scenario.deleted_look)}
    assert keys(doc["changed"]) == {
        ("dashboard", scenario.renamed_dashboard),
        ("look", scenario.renamed_look),
        ("dashboard", scenario.tiled_dashboard),
    }
    changed = {e["id"]: e for e in doc["changed"] if e["type"] == "dashboard"}
    renamed = changed[scenario.renamed_dashboard]
    assert renamed["fields"] == {"title": [scenario.titles[0], scenario.titles[2]]}
    tiled = changed[scenario.tiled_dashboard]["fields"]
    filters = [k for k in tiled if k.startswith("dashboard_filters/")]
    assert tiled == {
        f"dashboard_elements/{scenario.tile_added}": "added",
        f"dashboard_elements/{scenario.tile_removed}": "removed",
        filters[0]: {"default_value": [scenario.filter_default, "30 days"]},
    }
    words = changed[scenario.tiled_dashboard]["changes"]
    assert words == [
        '+ tile "Added note" added',
        f'- tile "{scenario.tile_removed_title}" removed',
        filter_words(scenario),
    ]
    assert renamed["changes"] == [f'~ title "{scenario.titles[0]}" → "{scenario.titles[2]}"']
    look = next(e for e in doc["changed"] if e["type"] == "look")
    was, to = scenario.look_folders
    assert look["changes"] == [
        f'~ folder "{was}" → "{to}"',  # named in each backup, not shown by ID
        f'~ title "{look["fields"]["title"][0]}" → "Orders, renamed"',
    ]
    assert doc["mass_changes"] == [] and doc["unreadable"] == []
    assert doc["same_lineage"] is True


def test_an_items_history_shows_exactly_its_changes(scenario: Scenario) -> None:
    b1, b2, b3 = register(scenario.paths)
    doc = command("backups", "history", "dashboard", scenario.renamed_dashboard)
    assert [v["backup_id"] for v in doc["versions"]] == [b1.pk, b2.pk, b3.pk]
    assert doc["versions"][0]["changes"] == []
    t = scenario.titles
    assert doc["versions"][1]["changes"] == [f'~ title "{t[0]}" → "{t[1]}"']
    assert doc["versions"][2]["changes"] == [f'~ title "{t[1]}" → "{t[2]}"']
    assert [v["extracted_at"] for v in doc["versions"]] == sorted(
        v["extracted_at"] for v in doc["versions"]
    )
    tiled = command("backups", "history", "dashboard", scenario.tiled_dashboard)["versions"]
    assert [v["changes"] for v in tiled] == [
        [],
        ['+ tile "Added note" added', f'- tile "{scenario.tile_removed_title}" removed'],
        [filter_words(scenario)],
    ]
    unchanged = command(
        "backups", "history", "look", scenario.deleted_look, "--lineage", str(b2.pk)
    )
    assert [v["backup_id"] for v in unchanged["versions"]] == [b1.pk, b2.pk]
    assert [v["changes"] for v in unchanged["versions"]] == [[], []]


def filter_words(scenario: Scenario) -> str:
    """The tiled dashboard's filter default changed, as the plan words it."""
    was = f'"{scenario.filter_default}"' if scenario.filter_default else "(empty)"
    return f'~ filter "{scenario.filter_title}": default {was} → "30 days"'


def test_the_text_output_words_changes_as_the_pages_do(scenario: Scenario) -> None:
    """`backups diff` and `backups history` without --json print the plan's lines too."""
    b1, _, b3 = register(scenario.paths)
    out = StringIO()
    call_command("backups", "diff", str(b1.pk), str(b3.pk), stdout=out)
    text = out.getvalue()
    was, to = scenario.look_folders
    assert '      + tile "Added note" added' in text
    assert f'      ~ folder "{was}" → "{to}"' in text and f"      {filter_words(scenario)}" in text
    out = StringIO()
    call_command("backups", "history", "dashboard", scenario.tiled_dashboard, stdout=out)
    assert f"): {filter_words(scenario)}" in out.getvalue()


def test_a_folders_dashboards_gone_stand_out_at_the_top(tmp_path: Path) -> None:
    from restore.engine.backup.compare import compare_backup_files
    from restore.engine.looker.client import LookerClient, LookerSettings

    with running_emulator(items=120, seed=5) as emu:
        before = tmp_path / "before.db"
        extract(emu.url, before, client_id=emu.client_id, client_secret=emu.client_secret)
        client = LookerClient(LookerSettings(emu.url, emu.client_id, emu.client_secret))
        dashboards = client.get("/dashboards/search", {"fields": "id,folder_id", "limit": 500})
        per_folder = Counter(str(d["folder_id"]) for d in dashboards)
        folder_id, n = per_folder.most_common(1)[0]
        for d in dashboards:
            if str(d["folder_id"]) == folder_id:
                client.delete(f"/dashboards/{d['id']}")
        client.delete(f"/looks/{client.get('/looks/search', {'limit': 1})[0]['id']}")
        after = tmp_path / "after.db"
        extract(emu.url, after, client_id=emu.client_id, client_secret=emu.client_secret)
        folder_name = client.get(f"/folders/{folder_id}")["name"]
    result = compare_backup_files(str(before), str(after), mass_at=n)
    assert len(result.removed) == n + 1
    assert [(m.change, m.type, m.count, m.folder_id) for m in result.mass] == [
        ("removed", "dashboard", n, folder_id)
    ]
    assert result.mass[0].text == f"{n} dashboards gone from folder '{folder_name}'"


def test_drift_since_the_first_backup_lists_the_changes_and_writes_nothing(
    scenario: Scenario,
) -> None:
    from restore.engine.backup.reader import open_backup
    from restore.engine.identity.drift import INSTANCE_SAMPLE, check_drift
    from restore.engine.looker.client import LookerClient, LookerSettings

    emu = scenario.emu
    client = LookerClient(LookerSettings(emu.url, emu.client_id, emu.client_secret))
    before = requests_by_method(emu)
    with open_backup(scenario.paths[0]) as reader:
        items = reader.count()
        report = check_drift(reader, client)
    sent = requests_by_method(emu) - before
    assert set(sent) == {"GET"}, sent
    found = {
        k: {(f.content_type.slug, f.id) for f in report.of(k)}
        for k in ("changed", "deleted", "created")
    }
    assert found == {
        "changed": {
            ("dashboard", scenario.renamed_dashboard),
            ("look", scenario.renamed_look),
            ("dashboard", scenario.tiled_dashboard),
        },
        "deleted": {("look", scenario.deleted_look)},
        "created": {("dashboard", scenario.new_dashboard)},
    }
    renamed = next(
        f
        for f in report.of("changed")
        if (f.content_type.slug, f.id) == ("dashboard", scenario.renamed_dashboard)
    )
    assert renamed.as_dict()["fields"] == {"title": [scenario.titles[0], scenario.titles[2]]}
    assert not [f for f in report.findings if f.message.startswith("unproven")]
    # Reads in pages; the fixed cost on top: the IDs sampled to decide the instance (groups and
    # roles carry no immutable field) and the one GET confirming the deleted look.
    assert sent["GET"] <= 0.2 * items + INSTANCE_SAMPLE + 1, (sent, items)


def test_restore_this_version_puts_that_version_back(scenario: Scenario) -> None:
    """What the item page's link starts: a restore of that item from that backup. (Last in this
    file: it changes the live instance the drift test reads.)"""

    from restore.engine.run.session import start_session

    b1, b2, b3 = register(scenario.paths)
    selection = {"content_types": [1], "ids": [scenario.renamed_dashboard]}
    session = start_session(b2, make_destination(scenario.emu), quick(selection=selection))
    summary = run(session, client_for(scenario.emu))
    assert summary["status"] == "completed" and summary["updated"] == 1, summary
    now = client_for(scenario.emu).get(f"/dashboards/{scenario.renamed_dashboard}")
    assert now["title"] == scenario.titles[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("diff", "9999", "1"), "no registered backup '9999'"),
        (("history", "widget", "1"), "unknown content type 'widget'"),
        (("history", "dashboard", "424242"), "no backup holds dashboard 424242"),
        (("history", "dashboard", "1", "--lineage", "9999"), "no lineage 9999"),
    ],
)
def test_bad_input_gets_a_clear_error(scenario: Scenario, args, message) -> None:
    from django.core.management.base import CommandError

    register(scenario.paths[:1])
    with pytest.raises(CommandError, match=message):
        call_command("backups", *args, stdout=StringIO())


def test_a_backup_file_gone_is_left_out_of_a_history_not_read_as_a_deletion(
    scenario: Scenario, tmp_path: Path
) -> None:
    import shutil

    copies = [tmp_path / p.name for p in scenario.paths]
    for path, copy in zip(scenario.paths, copies, strict=True):
        shutil.copy(path, copy)
    b1, b2, b3 = register(copies)
    lineages()  # fingerprints taken while all three files are there
    copies[2].unlink()
    doc = command("backups", "history", "look", scenario.deleted_look)
    assert [v["backup_id"] for v in doc["versions"]] == [b1.pk, b2.pk]
    assert doc["removed_in"] is None


class PagesLeavingOneOut:
    """A Looker whose paged list answers leave one object out, as offset paging does while
    something listed earlier is deleted: the real client underneath, every request sent."""

    def __init__(self, client: Any, path: str, left_out: str) -> None:
        self.client, self.path, self.left_out = client, path, left_out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        answer = self.client.get(path, params)
        if path == self.path and isinstance(answer, list):
            answer = [o for o in answer if str(o.get("id")) != self.left_out]
        return answer


def test_drift_calls_deleted_only_what_a_get_does_not_find(scenario: Scenario) -> None:
    """An object the list answer leaves out is read alone: found, it is compared as usual."""
    from restore.engine.backup.reader import open_backup
    from restore.engine.core.content_types import ContentType
    from restore.engine.identity.drift import check_drift
    from restore.engine.looker.client import LookerClient, LookerSettings
    from restore.engine.looker.pages import LIST_ENDPOINTS

    emu = scenario.emu
    client = LookerClient(LookerSettings(emu.url, emu.client_id, emu.client_secret))
    look = ContentType.LOOK
    pages = PagesLeavingOneOut(client, LIST_ENDPOINTS[look].path, scenario.renamed_look)
    with open_backup(scenario.paths[0]) as reader:
        report = check_drift(reader, pages, [look])
    found = {kind: {f.id for f in report.of(kind)} for kind in ("changed", "deleted", "created")}
    assert found == {
        "changed": {scenario.renamed_look},
        "deleted": {scenario.deleted_look},
        "created": set(),
    }


def test_a_group_is_the_backups_only_on_the_instance_decision() -> None:
    """Groups carry no immutable field: without the instance shown to be the backup's, the
    finding says its identity is unproven."""
    from restore.engine.core.content_types import ContentType
    from restore.engine.identity.drift import compare_item

    group, now = {"id": "5", "name": "Analysts"}, {"id": "5", "name": "Sales"}
    unproven = compare_item(ContentType.GROUP, "5", group, now, same_instance=False)
    assert unproven.kind == "changed" and unproven.message.startswith("unproven: a group")
    decided = compare_item(ContentType.GROUP, "5", group, now, same_instance=True)
    assert decided.kind == "changed" and decided.message == ""


def test_backups_diff_says_when_the_two_are_not_of_one_lineage(scenario: Scenario) -> None:
    """Two instances' "dashboard 12" are not one item changed: the diff says so, at the top and
    in --json."""
    ours, other = register([scenario.paths[0], OTHER_INSTANCE])
    doc = command("backups", "diff", str(ours.pk), str(other.pk))
    assert doc["same_lineage"] is False
    out = StringIO()
    call_command("backups", "diff", str(ours.pk), str(other.pk), stdout=out)
    assert out.getvalue().splitlines()[0].startswith("!! these backups are not shown to be of one")


def test_a_corrupt_blob_is_unreadable_not_removed(scenario: Scenario, tmp_path: Path) -> None:
    """A look whose copy in the newest backup cannot be read is neither removed in the diff nor
    gone in its history."""
    import shutil
    import sqlite3

    copies = [tmp_path / p.name for p in scenario.paths]
    for path, copy in zip(scenario.paths, copies, strict=True):
        shutil.copy(path, copy)
    b1, b2, b3 = register(copies)
    lineages()  # fingerprints taken while the files are whole
    look = scenario.renamed_look
    with sqlite3.connect(copies[2]) as conn:
        conn.execute(
            "UPDATE content_items SET content_data = ? WHERE id = ? AND content_type = 2",
            (b"\xc1 not msgpack at all", look),
        )
    conn.close()
    doc = command("backups", "diff", str(b1.pk), str(b3.pk))
    assert ("look", look) not in keys(doc["removed"]) | keys(doc["changed"])
    assert [(e["type"], e["id"], e["unreadable_in"]) for e in doc["unreadable"]] == [
        ("look", look, "newer")
    ]
    history = command("backups", "history", "look", look)
    assert [v["backup_id"] for v in history["versions"]] == [b1.pk, b2.pk]
    assert history["removed_in"] is None
    assert [u["backup_id"] for u in history["unreadable_in"]] == [b3.pk]


def test_drift_of_another_instances_backup_calls_groups_unproven(scenario: Scenario) -> None:
    """Against an instance the backup did not come from, a group under the same ID is not taken
    as the backup's group: its finding says unproven."""
    from restore.engine.backup.reader import open_backup
    from restore.engine.core.content_types import ContentType
    from restore.engine.identity.drift import check_drift
    from restore.engine.looker.client import LookerClient, LookerSettings

    emu = scenario.emu
    client = LookerClient(LookerSettings(emu.url, emu.client_id, emu.client_secret))
    with open_backup(OTHER_INSTANCE) as reader:
        report = check_drift(reader, client, [ContentType.GROUP, ContentType.DASHBOARD])
    groups = [
        f for f in report.findings if f.content_type == ContentType.GROUP and f.kind != "created"
    ]
    held = [f for f in groups if f.kind in ("changed", "unchanged")]
    assert held and all(f.message.startswith("unproven: a group") for f in held), groups
