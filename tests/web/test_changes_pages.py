"""The backups page groups a lineage; the diff page lists and filters changes; an item's page shows
its history with unchanged runs folded and "Restore this version" links. Every one words a change
as the plan does (`~ tile "Revenue": title "A" → "B"`, `+ tile "X" added`, a folder by its name)."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from changes_scenario import Scenario, register, scenario_fixture  # noqa: F401
from django.urls import reverse

from restore.models import Backup

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"

pytestmark = pytest.mark.django_db


def text(page: str) -> str:
    """The page as a person reads it: tags gone, entities as characters, spaces folded."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def filter_words(scenario: Scenario) -> str:
    was = f'"{scenario.filter_default}"' if scenario.filter_default else "(empty)"
    return f'~ filter "{scenario.filter_title}": default {was} → "30 days"'


@pytest.fixture
def three(scenario: Scenario) -> list[Backup]:
    return register(scenario.paths)


def test_the_backups_page_groups_a_lineage(client, admin_user, three) -> None:
    client.force_login(admin_user)
    page = client.get(reverse("backup_list")).content.decode()
    assert f"Lineage {three[0].pk}: 3 backups of one instance" in page
    detail = client.get(reverse("backup_detail", args=[three[1].pk])).content.decode()
    assert f"lineage {three[0].pk}</a>: 3 backups of the same instance" in detail


def test_the_diff_page_lists_and_filters(client, admin_user, three, scenario: Scenario) -> None:
    client.force_login(admin_user)
    url = reverse("backup_diff")
    a, b = three[0].pk, three[2].pk
    page = client.get(url, {"a": a, "b": b}).content.decode()
    assert "1 added" in page and "1 removed" in page and "3 changed" in page
    words = text(page)
    was, to = scenario.look_folders
    assert f'~ title "{scenario.titles[0]}" → "Revenue, final"' in words
    assert '+ tile "Added note" added' in words
    assert f'- tile "{scenario.tile_removed_title}" removed' in words
    assert filter_words(scenario) in words
    assert f'~ folder "{was}" → "{to}"' in words, words  # by name, in each backup
    assert "dashboard_elements" not in words and "folder id" not in words
    looks = client.get(url, {"a": a, "b": b, "type": "look"}).content.decode()
    assert "Revenue, final" not in looks and "Orders, renamed" in looks
    removed = client.get(url, {"a": a, "b": b, "change": "removed"}).content.decode()
    assert "Orders, renamed" not in removed and "change-removed" in removed


def test_an_items_history_folds_unchanged_runs(client, admin_user, three, scenario) -> None:
    client.force_login(admin_user)
    renamed = client.get(
        reverse("backup_item", args=[three[2].pk, "dashboard", scenario.renamed_dashboard])
    ).content.decode()
    assert "History in lineage" in renamed
    assert renamed.count("Restore this version") == 3
    assert "Revenue (renamed)" in renamed and "first seen" in renamed
    t = scenario.titles
    words = text(renamed)
    assert f'~ title "{t[0]}" → "{t[1]}"' in words and f'~ title "{t[1]}" → "{t[2]}"' in words
    tiled = client.get(
        reverse("backup_item", args=[three[2].pk, "dashboard", scenario.tiled_dashboard])
    ).content.decode()
    assert filter_words(scenario) in text(tiled) and '+ tile "Added note" added' in text(tiled)
    unchanged = client.get(
        reverse("backup_item", args=[three[0].pk, "look", scenario.deleted_look])
    ).content.decode()
    assert "same in backup" in unchanged and "no longer there" in unchanged
    link = f"?backup={three[1].pk}&amp;types=look&amp;ids={scenario.deleted_look}"
    assert link in unchanged


def test_the_drift_page_filters_and_plans_exactly_the_ticked(
    client, admin_user, three, scenario: Scenario
) -> None:
    from changes_scenario import finished_drift

    from restore.engine import RestoreError, Selection, open_backup, start_apply
    from restore.models import RestoreSession

    drift = finished_drift(scenario, three[0], "live")
    client.force_login(admin_user)
    url = reverse("drift_detail", args=[drift.pk])
    page = client.get(url).content.decode()
    assert "3</strong> changed since" in page and "1</strong> deleted since" in page
    assert "Brand new" in page and "Plan restoring the selected" in page
    was, to = scenario.look_folders
    words = text(page)
    assert f'~ folder "{was}" → "{to}"' in words and filter_words(scenario) in words
    assert f'~ title "{scenario.titles[0]}" → "Revenue, final"' in words
    looks = client.get(url, {"type": "look"}).content.decode()
    assert "Brand new" not in looks and "Orders, renamed" in looks
    with pytest.raises(RestoreError, match="not a finished plan"):
        start_apply(drift)  # what a drift check found is never applied as a plan
    picks = [f"dashboard:{scenario.renamed_dashboard}", f"look:{scenario.deleted_look}"]
    response = client.post(reverse("drift_plan", args=[drift.pk]), {"pick": picks})
    plan = RestoreSession.objects.filter(kind="restore", dry_run=True).get()
    assert response.status_code == 302 and response.url == reverse("session_detail", args=[plan.pk])
    with open_backup(three[0].path) as reader:
        chosen = reader.iter_items(Selection(**plan.options.selection))
        assert {(i.content_type.slug, i.id) for i in chosen} == {
            ("dashboard", scenario.renamed_dashboard),
            ("look", scenario.deleted_look),
        }


def test_the_diff_page_compares_a_replaced_file_again(
    client, admin_user, scenario: Scenario, tmp_path
) -> None:
    """Unverified backups have no hash yet: a file replaced under the same path is compared anew,
    never answered from the comparison kept for the old file."""
    copies = [tmp_path / "a.db", tmp_path / "b.db"]
    shutil.copy(scenario.paths[0], copies[0])
    shutil.copy(scenario.paths[2], copies[1])
    a, b = (Backup.register(path) for path in copies)
    assert not a.sha256 and not b.sha256
    client.force_login(admin_user)
    query = {"a": a.pk, "b": b.pk}
    assert "3 changed" in client.get(reverse("backup_diff"), query).content.decode()
    shutil.copy(scenario.paths[0], copies[1])  # B is now a copy of A
    again = client.get(reverse("backup_diff"), query).content.decode()
    assert "0 changed" in again and "0 added" in again, again


def test_the_diff_page_warns_when_the_backups_are_not_of_one_instance(
    client, admin_user, scenario: Scenario
) -> None:
    other_instance = FIXTURES / "lookervault-extract-parallel.db"
    ours, other = register([scenario.paths[0], other_instance])
    client.force_login(admin_user)
    page = client.get(reverse("backup_diff"), {"a": ours.pk, "b": other.pk}).content.decode()
    assert "These backups are not of one instance" in page
    same = client.get(reverse("backup_diff"), {"a": ours.pk, "b": ours.pk}).content.decode()
    assert "not of one instance" not in same
