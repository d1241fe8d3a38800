"""A dashboard whose untitled tiles look alike pairs with the live one on what each tile shows.

A lookervault backup of a dashboard with untitled look tiles (two of them showing the same look in
different places), untitled text tiles (two with the same text), query tiles, a date and a field
filter and one layout is migrated into an empty instance whose tiles are created out of order. Then
the same migration runs again and again, with the destination listing its rows in shuffled order:
every plan says "unchanged" and no run writes anything (the emulator's request counts). A board's
sections and items, and `best_match` itself whatever order the destination lists come in, too.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from compare import mapping_of
from conftest import client_for, make_backup, make_destination, quick, run

from looker_emulator.testing import RunningEmulator, running_emulator
from restore.engine.backup.reader import open_backup
from restore.engine.core.content_types import ContentType
from restore.engine.item.pairing import best_match
from restore.engine.run.session import start_session
from restore.models import RestoreItemResult

pytestmark = pytest.mark.django_db(transaction=True)

RERUNS = 20
QUERY = {"model": "thelook", "view": "order_items", "fields": ["order_items.count"]}
TILES: list[dict[str, Any]] = [
    {"look": 0},
    {"look": 1},
    {"look": 0},  # the same look as the first tile, elsewhere on the grid
    {"look": 2},
    {"type": "text", "body_text": "Read me first"},
    {"type": "text", "body_text": "Read me first"},  # the same text, elsewhere
    {"type": "text", "body_text": "Numbers are in USD", "subtitle_text": "Currency"},
    {"title": "Orders", "limit": "10"},
    {"title": "Revenue", "limit": "20"},
    {"limit": "30"},
    {"limit": "30"},  # the same query, untitled, elsewhere
]


def build_dashboard(client) -> str:
    """Three looks and the dashboard of the docstring, its grid filled in backup order."""
    shared = next(f for f in client.get("/folders") if f.get("is_shared_root"))
    folder = client.post("/folders", {"name": "Sales", "parent_id": shared["id"]})
    looks = [
        client.post(
            "/looks",
            {"title": f"Look {i}", "folder_id": folder["id"], "query": {**QUERY, "limit": str(i)}},
        )
        for i in range(3)
    ]
    dash = client.post("/dashboards", {"title": "Sales overview", "folder_id": folder["id"]})
    filters = [
        {"name": "date", "title": "Date", "type": "date_filter", "default_value": "7 days"},
        {
            "name": "status",
            "title": "Status",
            "type": "field_filter",
            "model": "thelook",
            "explore": "order_items",
            "dimension": "order_items.status",
        },
    ]
    for f in filters:
        client.post("/dashboard_filters", {**f, "dashboard_id": dash["id"]})
    for tile in TILES:
        body: dict[str, Any] = {"dashboard_id": dash["id"]}
        if "look" in tile:
            body.update(type="vis", look_id=looks[tile["look"]]["id"])
        elif tile.get("type") == "text":
            body.update(tile)
        else:
            body.update(type="vis", title=tile.get("title"))
            body["query"] = {**QUERY, "limit": tile["limit"]}
        client.post("/dashboard_elements", body)
    layout = client.get(f"/dashboards/{dash['id']}/dashboard_layouts")[0]
    for n, comp in enumerate(layout["dashboard_layout_components"]):
        place = {"row": (n // 3) * 4, "column": (n % 3) * 8, "width": 8, "height": 4}
        client.patch(f"/dashboard_layout_components/{comp['id']}", place)
    return str(dash["id"])


def out_of_order(emu: RunningEmulator, n: int) -> None:
    """Tiles created at once finish in reverse: the k-th POST to arrive waits (n - k) * 80 ms."""
    rules = [
        {
            "path": "/api/4.0/dashboard_elements",
            "method": "POST",
            "action": "delay",
            "delay_ms": (n - k) * 80,
        }
        for k in range(n)
    ]
    emu.set_faults(rules=rules)


def writes(emu: RunningEmulator) -> Counter[str]:
    return Counter(
        {
            f"{r['method']} {r['route']}": r["count"]
            for r in emu.stats()["requests"]
            if r["method"] != "GET" and "/login" not in r["route"]
        }
    )


def grid(dashboard: dict, look_of: Callable[[Any], Any]) -> list[tuple]:
    """What each tile shows and where, in the tiles' ID order."""
    places = {
        str(c["dashboard_element_id"]): (c["row"], c["column"], c["width"], c["height"])
        for c in dashboard["dashboard_layouts"][0]["dashboard_layout_components"]
    }
    tiles = sorted(dashboard["dashboard_elements"], key=lambda t: int(t["id"]))
    return [
        (
            look_of(t.get("look_id")) or "",
            t.get("title") or "",
            t.get("body_text") or "",
            str((t.get("query") or {}).get("limit") or ""),
            places[str(t["id"])],
        )
        for t in tiles
    ]


def dashboard_action(session, dash_id: str) -> str:
    return RestoreItemResult.objects.get(
        session=session, content_type=int(ContentType.DASHBOARD), source_id=dash_id
    ).action


def check_first_run(empty: RunningEmulator, dest, held: dict, dash_id: str) -> None:
    """Every tile shows what it showed where it showed it; their IDs fell out of backup order."""
    mapping = mapping_of(dest)
    live = client_for(empty).get(f"/dashboards/{mapping[(int(ContentType.DASHBOARD), dash_id)]}")
    looks = {s: d for (ct, s), d in mapping.items() if ct == int(ContentType.LOOK)}
    restored = grid(live, lambda x: x and str(x))
    wanted = grid(held, looks.get)
    assert sorted(restored) == sorted(wanted), "the first run is exact"
    assert restored != wanted, "the tiles were created out of order"


def test_untitled_look_and_text_tiles_pair_on_what_they_show(tmp_path, recorder):
    with running_emulator(items=10, seed=3) as src, running_emulator() as empty:
        dash_id = build_dashboard(client_for(src))
        backup = make_backup(src, tmp_path / "sales.db")
        with open_backup(backup.path) as reader:
            held = reader.get_item(ContentType.DASHBOARD, dash_id).content
        assert len(held["dashboard_elements"]) == len(TILES), "a backup with its tiles"
        assert len(held["dashboard_filters"]) == 2 and len(held["dashboard_layouts"]) == 1

        dest = make_destination(empty, "empty")
        selection = {
            "with_dependencies": True,
            "selection": {"content_types": ["dashboard"], "ids": [dash_id]},
        }
        out_of_order(empty, len(TILES))
        # fanned out even while the test process is busy, so the tiles' POSTs do overlap
        fanned = quick(fit_to_cpu=False, **selection)
        first = run(start_session(backup, dest, fanned), client_for(empty, recorder))
        assert first["failed"] == 0 and first["by_type"]["dashboard"]["created"] == 1, first
        empty.set_faults(rules=[])
        check_first_run(empty, dest, held, dash_id)

        empty.set_faults(shuffle_lists=True)
        for n in range(RERUNS):
            empty.reset()
            plan = start_session(backup, dest, quick(dry_run=True, **selection))
            planned = run(plan, client_for(empty, recorder))
            assert dashboard_action(plan, dash_id) == "unchanged", (n, planned)
            again = start_session(backup, dest, quick(**selection))
            summary = run(again, client_for(empty, recorder))
            assert summary["failed"] == 0 and summary["updated"] == 0, (n, summary)
            assert dashboard_action(again, dash_id) == "unchanged", n
            assert writes(empty) == Counter(), (n, writes(empty))


# A backup tile and the destination tile it must pair with: (ID, what it shows, title, place).
# The same look twice in two places; a text edited but titled; a query changed in place.
EXPECTED = [
    (("a", "look 1", None, 0), ("12", "look 1", None, 0)),
    (("b", "look 2", None, 1), ("11", "look 2", None, 0)),
    (("c", "look 1", None, 2), ("14", "look 1", None, 2)),
    (("d", "text", "Notes", 3), ("10", "other text", "Notes", 9)),
    (("e", "query", None, 4), ("13", "query 2", None, 4)),
]


def test_best_match_is_the_same_whatever_order_the_destination_lists_come_in():
    """Agreement on what a row shows outweighs title and place; ties never follow list order."""
    keys = ("id", "shows", "title", "place")
    wanted = [dict(zip(keys, w, strict=True)) for w, _ in EXPECTED]
    have = [dict(zip(keys, h, strict=True)) for _, h in EXPECTED]

    def facets(row: dict) -> tuple:
        return (row["shows"], row["title"], row["place"])

    answers = {
        tuple((w["id"], h and h["id"]) for w, h in best_match(wanted, list(order), facets, facets))
        for order in itertools.permutations(have)
    }
    assert answers == {tuple((w[0], h[0]) for w, h in EXPECTED)}


def build_board(client) -> str:
    """A board of two untitled sections, each listing the same two looks in its own order."""
    shared = next(f for f in client.get("/folders") if f.get("is_shared_root"))
    looks = [
        client.post(
            "/looks", {"title": f"Board look {i}", "folder_id": shared["id"], "query": QUERY}
        )
        for i in range(2)
    ]
    board = client.post("/boards", {"title": "Team board"})
    for order in ((0, 1), (1, 0)):
        section = client.post("/board_sections", {"board_id": board["id"]})
        for i in order:
            client.post(
                "/board_items", {"board_section_id": section["id"], "look_id": looks[i]["id"]}
            )
    return str(board["id"])


def test_board_sections_and_items_pair_on_what_they_show(tmp_path, recorder):
    with running_emulator(items=10, seed=3) as src, running_emulator() as empty:
        board_id = build_board(client_for(src))
        backup = make_backup(src, tmp_path / "board.db")
        dest = make_destination(empty, "empty")
        selection = {
            "with_dependencies": True,
            "selection": {"content_types": ["board"], "ids": [board_id]},
        }
        first = run(start_session(backup, dest, quick(**selection)), client_for(empty, recorder))
        assert first["failed"] == 0 and first["by_type"]["board"]["created"] == 1, first
        empty.set_faults(shuffle_lists=True)
        for n in range(5):
            empty.reset()
            again = start_session(backup, dest, quick(**selection))
            summary = run(again, client_for(empty, recorder))
            assert summary["failed"] == 0 and summary["updated"] == 0, (n, summary)
            assert writes(empty) == Counter(), (n, writes(empty))
