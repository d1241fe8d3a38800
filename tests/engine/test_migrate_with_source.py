"""A lookervault-shaped backup migrated into an empty instance with the source instance named:
everything but LookML dashboards arrives, field for field, and the source is only ever read."""

from __future__ import annotations

import pytest
from compare import compare_backup, mapping_of
from conftest import client_for, make_destination, quick, run
from test_migrate_lookervault import looks_without_tile_query, not_done

from looker_emulator.extract import extract
from looker_emulator.testing import running_emulator
from restore.engine.backup.reader import Selection, open_backup
from restore.engine.core.content_types import ContentType
from restore.engine.looker.payloads import query_body
from restore.engine.run.session import start_session
from restore.models import Backup, RestoreSession

pytestmark = pytest.mark.django_db(transaction=True)
CT = ContentType


def add_merge_tile(emu) -> str:
    """A merged-results tile on one of the source's dashboards; answers its dashboard's ID."""
    client = client_for(emu)
    doc = emu.export()["tables"]
    q1, q2 = (q["id"] for q in doc["queries"][:2])
    dash = next(d for d in doc["dashboards"] if str(d["id"]).isdigit() and not d.get("deleted"))
    merge = client.post(
        "/merge_queries",
        {
            "source_queries": [
                {"name": "a", "query_id": q1, "merge_fields": []},
                {"name": "b", "query_id": q2, "merge_fields": [{"field_name": "x"}]},
            ]
        },
    )
    tile = {"dashboard_id": dash["id"], "type": "vis", "title": "Blend"}
    client.post("/dashboard_elements", {**tile, "merge_result_id": merge["id"]})
    return str(dash["id"])


@pytest.fixture
def origin():
    with running_emulator(items=150, seed=7) as emu:
        emu.merge_dashboard = add_merge_tile(emu)
        yield emu


def backup_of(origin, path, id_style: str = "plain") -> Backup:
    """A lookervault backup of `origin`, registered and verified."""
    secrets = {"client_id": origin.client_id, "client_secret": origin.client_secret}
    extract(origin.url, path, **secrets, id_style=id_style)
    backup = Backup.register(path)
    assert backup.verify(), backup.verification_error
    return backup


def source_writes(emu) -> list[dict]:
    return [
        r
        for r in emu.stats()["requests"]
        if r["method"] != "GET" and not r["route"].endswith("/login")
    ]


def reads_of(emu, route_end: str) -> int:
    return sum(
        r["count"]
        for r in emu.stats()["requests"]
        if r["method"] == "GET" and r["route"].endswith(route_end)
    )


@pytest.mark.parametrize("id_style", ["plain", "composite"])
def test_with_the_source_named_everything_but_lookml_dashboards_arrives(
    id_style, origin, empty_emu, tmp_path
):
    path = tmp_path / "backup.db"
    backup = backup_of(origin, path, id_style)
    source = make_destination(origin, "origin")
    dest = make_destination(empty_emu, "target")
    origin.reset()
    config = quick(source_destination_id=source.pk)
    first = run(start_session(backup, dest, config), client_for(empty_emu))
    assert not_done(first["session_id"]) == {}
    assert source_writes(origin) == []
    lacking = looks_without_tile_query(path)
    assert lacking, "the backup should hold looks whose query is in no tile"
    # each query the backup lacks read once (the merge's two source queries are in no tile here
    # or are: at most once each either way)
    assert len(lacking) <= reads_of(origin, "/queries/{query_id}") <= len(lacking) + 2
    assert reads_of(origin, "/merge_queries/{merge_query_id}") == 1

    with open_backup(path) as reader:
        result = compare_backup(reader, client_for(empty_emu), mapping_of(dest), same=False)
    diffs = [d for d in result.diffs if ".merge_result_id:" not in d]
    assert diffs == [], "\n".join(diffs[:20])
    assert_looks_show_their_source_query(path, origin, empty_emu, dest)
    assert_merge_tile_recreated(origin, empty_emu, mapping_of(dest))

    creates = empty_emu.stats()["creates"]
    second = run(start_session(backup, dest, config), client_for(empty_emu))
    assert second["created"] == 0 and second["failed"] == 0, second
    assert empty_emu.stats()["creates"] == creates
    assert source_writes(origin) == []


def assert_looks_show_their_source_query(path, origin, empty_emu, dest) -> None:
    mapping = mapping_of(dest)
    src, dst = client_for(origin), client_for(empty_emu)
    with open_backup(path) as reader:
        for item in reader.iter_items(Selection(content_types=[CT.LOOK])):
            want = query_body(src.get(f"/queries/{item.content['query_id']}"))
            have = dst.get(f"/looks/{mapping[(int(CT.LOOK), item.id)]}")["query"]
            assert {k: have.get(k) for k in want} == want, item.id


def assert_merge_tile_recreated(origin, empty_emu, mapping) -> None:
    """The destination's merged-results tile shows a merge of the same queries as the source's."""
    src, dst = client_for(origin), client_for(empty_emu)
    dash = origin.merge_dashboard

    def merged(client, dashboard_id: str) -> list:
        doc = client.get(f"/dashboards/{dashboard_id}")
        (tile,) = [t for t in doc["dashboard_elements"] if t.get("merge_result_id")]
        merge = client.get(f"/merge_queries/{tile['merge_result_id']}")
        return [
            (s["name"], s.get("merge_fields"), query_body(client.get(f"/queries/{s['query_id']}")))
            for s in merge["source_queries"]
        ]

    want = merged(src, dash)
    have = merged(dst, mapping[(int(CT.DASHBOARD), dash)])
    assert len(have) == len(want) == 2
    for (name, fields, query), (w_name, w_fields, w_query) in zip(have, want, strict=True):
        assert (name, fields) == (w_name, w_fields)
        assert {k: query.get(k) for k in w_query if k != "client_id"} == {
            k: v for k, v in w_query.items() if k != "client_id"
        }


def test_a_source_that_is_another_instance_gives_nothing(origin, empty_emu, tmp_path):
    """The source named is another instance whose query IDs collide with the backup's: a sample
    of the backup's items proves it is not their origin, so not one of its queries is used; only
    the items that need the source are blocked, saying why."""
    path = tmp_path / "backup.db"
    backup = backup_of(origin, path)
    lacking = looks_without_tile_query(path)
    with running_emulator(items=150, seed=8) as elsewhere:
        other = client_for(elsewhere)
        assert all(other.get_or_none(f"/queries/{qid}") for qid in queries_of(path, lacking)), (
            "the other instance should hold queries under the IDs the backup's looks show"
        )
        source = make_destination(elsewhere, "elsewhere")
        dest = make_destination(empty_emu, "target")
        elsewhere.reset()
        summary = run(
            start_session(backup, dest, quick(source_destination_id=source.pk)),
            client_for(empty_emu),
        )
        assert reads_of(elsewhere, "/queries/{query_id}") == 0
        assert reads_of(elsewhere, "/merge_queries/{merge_query_id}") == 0
        gets = [r for r in elsewhere.stats()["requests"] if r["method"] == "GET"]
        assert sum(r["count"] for r in gets) <= 20
        assert source_writes(elsewhere) == []
    session = RestoreSession.objects.get(pk=summary["session_id"])
    checked = session.identity["source"]
    assert not checked["proven"] and checked["other"] > checked["same"], checked
    left = not_done(session.pk)
    why = (
        f"the source instance elsewhere does not hold this backup's objects: "
        f"{checked['same']} of {checked['sampled']} sampled match"
    )
    assert {sid for (ct, sid) in left if ct == CT.LOOK} == lacking
    assert all(why in left[(int(CT.LOOK), sid)] for sid in lacking)
    merge_dashboard = left[(int(CT.DASHBOARD), origin.merge_dashboard)]
    assert "left out: merge query" in merge_dashboard and why in merge_dashboard
    rest = [m for m in left.values() if why not in m]
    assert all("which this session could not restore (it is blocked" in m for m in rest), rest
    (reason,) = summary["blocked_reasons"]
    assert reason["needs_source"] and "does not hold this backup's objects" in reason["text"]


def queries_of(path, look_ids: set[str]) -> list[str]:
    with open_backup(path) as reader:
        return [
            str(item.content["query_id"])
            for item in reader.iter_items(Selection(content_types=[CT.LOOK]))
            if str(item.id) in look_ids
        ]


def test_a_merge_tile_paired_by_title_gets_the_sources_merge_query(origin, empty_emu, tmp_path):
    """The destination's "Blend" tile was pointed at another merge query since the migration:
    pairing it by title proves nothing about what it shows, so it is given the merge query built
    from the source again (a tile showing the same merged results keeps its own: the second run
    of the test above writes nothing)."""
    backup = backup_of(origin, tmp_path / "backup.db")
    source = make_destination(origin, "origin")
    dest = make_destination(empty_emu, "target")
    origin.reset()
    config = quick(source_destination_id=source.pk)
    run(start_session(backup, dest, config), client_for(empty_emu))
    mapping = mapping_of(dest)
    assert_merge_tile_recreated(origin, empty_emu, mapping)

    dst = client_for(empty_emu)
    board = dst.get(f"/dashboards/{mapping[(int(CT.DASHBOARD), origin.merge_dashboard)]}")
    (tile,) = [t for t in board["dashboard_elements"] if t.get("merge_result_id")]
    merged = dst.get(f"/merge_queries/{tile['merge_result_id']}")["source_queries"]
    swapped = [{**s, "name": o["name"]} for s, o in zip(merged, reversed(merged), strict=True)]
    other = dst.post("/merge_queries", {"source_queries": swapped})
    dst.patch(f"/dashboard_elements/{tile['id']}", {"merge_result_id": other["id"]})
    with pytest.raises(AssertionError):
        assert_merge_tile_recreated(origin, empty_emu, mapping)

    again = run(start_session(backup, dest, config), client_for(empty_emu))
    assert again["failed"] == 0, again
    assert_merge_tile_recreated(origin, empty_emu, mapping)
    assert source_writes(origin) == []
