"""A 25-tile dashboard restores in fewer, partly concurrent requests, and still equals the backup.

Counts come from the destination emulator's `/_emulator/stats`; every request body is validated
against the OpenAPI spec by the `recorder` observer (query tiles now carry their query inline).
"""

from __future__ import annotations

from collections import Counter

import pytest
from compare import compare_backup, mapping_of
from conftest import client_for, make_backup, make_destination, quick, run
from test_single_dashboard import build_dashboard

from looker_emulator.testing import RunningEmulator, running_emulator
from restore.engine.backup.reader import Selection, open_backup
from restore.engine.run.session import start_session

pytestmark = pytest.mark.django_db(transaction=True)

# Before inline queries and concurrent sub-resource writes, this restore made 93 requests into an
# empty destination, one after another (10 of them POST /queries for the query tiles); with the
# tiles' queries inline, 76 (3 POST /queries for the looks); with the looks' inline too, 73.
REQUESTS_BEFORE_LOOK_QUERIES_INLINE = 76
QUERY_TILES = 10  # tiles 1, 3, 7, ... of build_dashboard: odd and not a multiple of 5
LOOKS = 3


def routes(emu: RunningEmulator) -> Counter[str]:
    return Counter({f"{r['method']} {r['route']}": r["count"] for r in emu.stats()["requests"]})


def writes(counts: Counter[str]) -> int:
    return sum(n for k, n in counts.items() if not k.startswith("GET") and "/login" not in k)


def test_dashboard_restore_makes_fewer_requests_and_matches_backup(tmp_path, recorder):
    with running_emulator(items=40, seed=4) as src, running_emulator() as empty:
        dash_id = build_dashboard(client_for(src))
        backup = make_backup(src, tmp_path / "one.db")
        dest = make_destination(empty, "empty")
        config = quick(
            with_dependencies=True,
            selection={"content_types": ["dashboard"], "ids": [dash_id]},
            fit_to_cpu=False,  # its requests overlap even while the test process is busy
        )
        before = empty.stats()["state_counts"].get("queries", 0)
        empty.reset()
        empty.set_faults(latency_ms=20)  # so requests of one dashboard can overlap
        summary = run(start_session(backup, dest, config), client_for(empty, recorder))
        assert summary["failed"] == 0, summary
        assert summary["by_type"]["dashboard"]["created"] == 1
        # a session's fixed cost: light GETs of sampled IDs (is it the same instance or not?)
        sampled = summary["instance"]["sampled"]
        assert 0 < sampled <= 60
        stats = empty.stats()
        counts = routes(empty)
        # every query went inline, the query tiles' and the looks' (create_look takes one too)
        assert counts["POST /api/4.0/queries"] == 0, counts
        assert counts["POST /api/4.0/looks"] == LOOKS, counts
        assert counts["POST /api/4.0/dashboard_elements"] == 25
        assert stats["state_counts"]["queries"] - before == LOOKS + QUERY_TILES
        # (concurrent look restores may repeat a cached lookup, e.g. the owner's email search)
        assert stats["total"] - sampled < REQUESTS_BEFORE_LOOK_QUERIES_INLINE, counts
        # the sequential session runner alone never has two requests in flight
        assert stats["max_in_flight"] >= 2, stats["max_in_flight"]

        with open_backup(backup.path) as reader:
            sel = Selection(content_types=["dashboard"], ids=[dash_id])
            result = compare_backup(
                reader, client_for(empty), mapping_of(dest), same=False, selection=sel
            )
        assert result.diffs == [], "\n".join(result.diffs[:20])
        assert result.compared > 300

        # Converged: the same restore again writes nothing, and needs no second read of the
        # layouts (the dashboard GET holds them).
        empty.reset()
        again = run(start_session(backup, dest, config), client_for(empty, recorder))
        assert again["failed"] == 0, again
        assert again["by_type"]["dashboard"]["unchanged"] == 1, again
        counts = routes(empty)
        assert writes(counts) == 0, counts
        assert counts["GET /api/4.0/dashboards/{dashboard_id}/dashboard_layouts"] == 0, counts

        # The new tiles were created at once, so their IDs follow no order: they pair with the
        # backup's by content. One tile renamed in the destination is the only write.
        dest_dash = mapping_of(dest)[(1, str(dash_id))]
        tiles = client_for(empty).get(f"/dashboards/{dest_dash}")["dashboard_elements"]
        client_for(empty).patch(f"/dashboard_elements/{tiles[5]['id']}", {"title": "renamed"})
        empty.reset()
        third = run(start_session(backup, dest, config), client_for(empty, recorder))
        assert third["by_type"]["dashboard"]["updated"] == 1, third
        counts = routes(empty)
        assert counts["PATCH /api/4.0/dashboard_elements/{dashboard_element_id}"] == 1, counts
        assert writes(counts) == 1, counts


def test_moved_tiles_are_put_back_from_the_dashboard_get(tmp_path, recorder):
    """Tiles moved and one renamed in the destination: PATCHes only, layouts not read again."""
    with running_emulator(items=40, seed=4) as emu:
        client = client_for(emu)
        dash_id = build_dashboard(client)
        backup = make_backup(emu, tmp_path / "one.db")
        dest = make_destination(emu)
        d = client.get(f"/dashboards/{dash_id}")
        for comp in d["dashboard_layouts"][0]["dashboard_layout_components"][:5]:
            client.patch(f"/dashboard_layout_components/{comp['id']}", {"row": 99, "column": 3})
        client.patch(f"/dashboard_elements/{d['dashboard_elements'][2]['id']}", {"title": "x"})
        emu.reset()
        summary = run(
            start_session(backup, dest, quick(selection={"ids": [dash_id]})),
            client_for(emu, recorder),
        )
        assert summary["failed"] == 0 and summary["updated"] == 1, summary
        counts = routes(emu)
        assert (
            counts["PATCH /api/4.0/dashboard_layout_components/{dashboard_layout_component_id}"]
            == 5
        )
        assert counts["PATCH /api/4.0/dashboard_elements/{dashboard_element_id}"] == 1
        assert counts["GET /api/4.0/dashboards/{dashboard_id}/dashboard_layouts"] == 0
        with open_backup(backup.path) as reader:
            sel = Selection(content_types=["dashboard"], ids=[dash_id])
            result = compare_backup(reader, client, mapping_of(dest), same=True, selection=sel)
        assert result.diffs == [], "\n".join(result.diffs[:20])
