"""`shuffle_lists`: a parent's sub-resources answered in a random order, as Looker may answer them.

Looker promises no order for a dashboard's tiles, filters and layouts, a layout's components or a
board's sections and items; a client must not depend on it. These tests check the knob through the
real looker-sdk: every such list moves, holds the same members, the same seed gives the same orders,
and switching it off gives the stored (id) order back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from emulator_sdk import raw
from looker_sdk.sdk.api40 import methods as methods40

from looker_emulator.testing import RunningEmulator

SDK = methods40.Looker40SDK
Lister = Callable[[], list[str]]


def _most(rows: list[dict], field: str) -> str:
    """The parent with the most children (by the children's foreign key)."""
    return Counter(r[field] for r in rows).most_common(1)[0][0]


def _listers(emu: RunningEmulator, sdk: SDK) -> dict[str, Lister]:
    """Every way a sub-resource list is answered, each giving the ids in answer order."""
    tables = emu.export()["tables"]
    did = _most(tables["dashboard_elements"], "dashboard_id")
    fid = _most(tables["dashboard_filters"], "dashboard_id")
    lid = _most(tables["dashboard_layout_components"], "dashboard_layout_id")
    bid = _most(tables["board_sections"], "board_id")
    sid = _most(tables["board_items"], "board_section_id")
    layout_dash = next(r["dashboard_id"] for r in tables["dashboard_layouts"] if r["id"] == lid)
    section_board = next(r["board_id"] for r in tables["board_sections"] if r["id"] == sid)

    def section(board_id: str, section_id: str) -> list[str]:
        sections = sdk.board(board_id).board_sections or []
        return [str(i.id) for s in sections if s.id == section_id for i in s.board_items or []]

    return {
        "dashboard tiles": lambda: [str(e.id) for e in sdk.dashboard(did).dashboard_elements],
        "dashboard filters": lambda: [str(f.id) for f in sdk.dashboard(fid).dashboard_filters],
        "layout components": lambda: [
            str(c.id)
            for lay in sdk.dashboard(layout_dash).dashboard_layouts
            if lay.id == lid
            for c in lay.dashboard_layout_components
        ],
        "tiles of a search answer": lambda: [
            str(e.id) for e in sdk.search_dashboards(id=did)[0].dashboard_elements
        ],
        "dashboard_dashboard_elements": lambda: [
            str(e.id) for e in sdk.dashboard_dashboard_elements(did)
        ],
        "dashboard_dashboard_filters": lambda: [
            str(f.id) for f in sdk.dashboard_dashboard_filters(fid)
        ],
        "dashboard_layout_dashboard_layout_components": lambda: [
            str(c.id) for c in sdk.dashboard_layout_dashboard_layout_components(lid)
        ],
        "search_dashboard_elements": lambda: [
            str(e.id) for e in sdk.search_dashboard_elements(dashboard_id=did)
        ],
        "board sections": lambda: [str(s.id) for s in sdk.board(bid).board_sections],
        "board items": lambda: section(section_board, sid),
        "board_section items": lambda: [str(i.id) for i in sdk.board_section(sid).board_items],
        "all_board_items": lambda: [str(i.id) for i in sdk.all_board_items(board_section_id=sid)],
    }


def _id_sorted(ids: list[str]) -> list[str]:
    return sorted(ids, key=int)


def _set(sdk: SDK, emu: RunningEmulator, **settings: object) -> dict:
    resp = raw(sdk, "POST", f"{emu.url}/_emulator/faults", json=settings)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_every_sub_resource_list_moves_and_keeps_its_members(
    emu: RunningEmulator, sdk: SDK
) -> None:
    listers = _listers(emu, sdk)
    stored = {name: lister() for name, lister in listers.items()}
    for name, ids in stored.items():
        assert len(ids) >= 3, name  # enough members for a shuffle to show
        assert ids == _id_sorted(ids), f"{name} is answered in id order by default"

    answer = _set(sdk, emu, shuffle_lists=True, shuffle_seed=3)
    assert (answer["shuffle_lists"], answer["shuffle_seed"]) == (True, 3)
    for name, lister in listers.items():
        answers = [lister() for _ in range(5)]
        assert all(sorted(a) == sorted(stored[name]) for a in answers), name
        assert any(a != stored[name] for a in answers), f"{name} never moved"

    _set(sdk, emu, shuffle_lists=False)
    assert {name: lister() for name, lister in listers.items()} == stored


def test_same_seed_same_orders_and_sorts_still_sort(emu: RunningEmulator, sdk: SDK) -> None:
    tiles = _listers(emu, sdk)["dashboard tiles"]
    did = _most(emu.export()["tables"]["dashboard_elements"], "dashboard_id")

    runs = []
    for _ in range(2):
        _set(sdk, emu, shuffle_lists=True, shuffle_seed=11)
        runs.append([tiles() for _ in range(4)])
    assert runs[0] == runs[1]
    assert len({tuple(order) for order in runs[0]}) > 1

    # An explicit `sorts` is an order the client asked for: it is kept.
    sorted_ids = [str(e.id) for e in sdk.search_dashboard_elements(dashboard_id=did, sorts="id")]
    assert sorted_ids == _id_sorted(sorted_ids)

    _set(sdk, emu, clear=True)
    assert tiles() == _id_sorted(tiles())


@pytest.mark.parametrize(
    "change",
    [{"shuffle_lists": "yes"}, {"shuffle_lists": 1}, {"shuffle_seed": "7"}, {"shuffle_seed": 1.5}],
)
def test_bad_settings_are_refused_and_change_nothing(
    emu: RunningEmulator, sdk: SDK, change: dict
) -> None:
    before = raw(sdk, "GET", f"{emu.url}/_emulator/faults").json()
    resp = raw(sdk, "POST", f"{emu.url}/_emulator/faults", json={"latency_ms": 7, **change})
    assert resp.status_code == 400
    assert "shuffle_" in resp.json()["message"]
    assert raw(sdk, "GET", f"{emu.url}/_emulator/faults").json() == before


def test_set_at_start_and_through_set_faults() -> None:
    from emulator_sdk import make_sdk

    from looker_emulator.testing import running_emulator

    with running_emulator(items=60, seed=7, shuffle_lists=True, shuffle_seed=2) as emu:
        sdk = make_sdk(emu.url, emu.client_id, emu.client_secret)
        tiles = _listers(emu, sdk)["dashboard tiles"]
        answers = [tiles() for _ in range(4)]
        assert any(a != _id_sorted(a) for a in answers)
        assert emu.set_faults(shuffle_lists=False)["shuffle_lists"] is False
        assert tiles() == _id_sorted(tiles())
