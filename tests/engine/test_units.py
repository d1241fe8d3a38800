"""Engine pieces on real data: the generated field list, payloads from lookervault's fixtures,
the dependency graph, instance identity, compatibility filtering."""

from __future__ import annotations

import json

import pytest
from helpers import lookervault_fixture
from spec_check import check_value, spec

from restore.engine.backup.order import ordered_items, topological
from restore.engine.backup.reader import Selection, open_backup
from restore.engine.core.content_types import ContentType
from restore.engine.core.diffs import field_diff
from restore.engine.identity.evidence import InstanceCheck, same_object
from restore.engine.item.restore import source_id_of
from restore.engine.item.restorers import RESTORERS
from restore.engine.looker import spec_fields_gen
from restore.engine.looker.compat import Compatibility, fields_of
from restore.engine.looker.payloads import SPEC_FIELDS_PATH, writable


def test_generated_field_list_matches_the_spec():
    assert json.loads(SPEC_FIELDS_PATH.read_text()) == spec_fields_gen.writable_fields(spec())


@pytest.mark.parametrize("style", ["parallel", "sequential"])
def test_payloads_from_fixture_objects_are_valid_bodies(style):
    """Every top-level body built from a real backup object passes the spec check (no read-only)."""
    with open_backup(lookervault_fixture(style)) as reader:
        checked = 0
        for item in reader.iter_items(Selection()):
            restorer = RESTORERS.get(item.content_type)
            if restorer is None or item.content.get("is_shared_root"):
                continue  # root folders are mapped, never written
            body = writable(restorer.update_schema, item.content)
            errors: list[str] = []
            check_value(
                {"$ref": f"#/components/schemas/{restorer.update_schema}"}, body, item.label, errors
            )
            assert errors == []
            assert "id" not in body and "can" not in body and "created_at" not in body
            checked += 1
    assert checked >= 20


def test_composite_and_plain_ids_give_the_same_source_id():
    with (
        open_backup(lookervault_fixture("parallel")) as p,
        open_backup(lookervault_fixture("sequential")) as s,
    ):
        for ct, item_id in ((ContentType.DASHBOARD, "101"), (ContentType.LOOKML_MODEL, "thelook")):
            assert (
                source_id_of(p.get_item(ct, item_id))
                == source_id_of(s.get_item(ct, item_id))
                == item_id
            )


def test_folders_come_parent_first_and_cycles_do_not_loop():
    order, cyclic = topological(["c", "b", "a"], {"c": ["b"], "b": ["a"], "a": []})
    assert order == ["a", "b", "c"] and cyclic == []
    order, cyclic = topological(["x", "y", "z"], {"x": ["y"], "y": ["x"], "z": []})
    assert order == ["z"] and sorted(cyclic) == ["x", "y"]
    for style in ("parallel", "sequential"):  # IDs stored as `42` and as `folder::42`
        with open_backup(lookervault_fixture(style)) as reader:
            selection = Selection(content_types=["folder"])
            stored = [f.raw_id for f in reader.iter_items(selection)]
            items, cyc = ordered_items(reader, ContentType.FOLDER, selection)
            ordered = list(items)
        ids = [f.id for f in ordered]
        assert sorted(f.raw_id for f in ordered) == sorted(stored)
        assert any(f.content.get("parent_id") in ids for f in ordered)
        for f in ordered:
            parent = f.content.get("parent_id")
            if parent in ids:
                assert ids.index(parent) < ids.index(f.id)
        assert cyc == set()


def test_evidence_compares_moments_not_spellings():
    import datetime as dt

    backup = {"created_at": dt.datetime(2023, 11, 22, 22, 22, 25, 109000, tzinfo=dt.UTC)}
    live = {"created_at": "2023-11-22T22:22:25.109+00:00", "title": "renamed"}
    assert same_object(ContentType.DASHBOARD, backup, live) is True
    assert (
        same_object(ContentType.DASHBOARD, backup, {"created_at": "2023-11-22T22:22:26Z"}) is False
    )
    assert same_object(ContentType.GROUP, {"name": "a"}, {"name": "b"}) is None  # no evidence
    user = {"credentials_email": {"created_at": "2024-06-02 13:53:22.868000"}}
    assert same_object(
        ContentType.USER, user, {"credentials_email": {"created_at": "2024-06-02T13:53:22.868Z"}}
    )
    assert same_object(ContentType.USER, user, {"credentials_email": None}) is None
    folder = {"created_at": "2025-01-01T00:00:00Z", "content_metadata_id": "16"}
    assert same_object(ContentType.FOLDER, folder, {**folder, "content_metadata_id": "17"}) is False


def test_the_instance_decision_weighs_matches_against_missing_and_other_objects():
    wrecked = InstanceCheck(sampled=60, same=40, other=0, missing=20)
    fresh = InstanceCheck(sampled=47, same=2, other=0, missing=45)
    reset = InstanceCheck(sampled=60, same=3, other=50, missing=7)
    for check in (wrecked, fresh, reset):
        check.decide()
    assert (wrecked.same_instance, fresh.same_instance, reset.same_instance) == (True, False, False)
    assert "40 of 60 sampled IDs hold the same objects" in wrecked.summary


def test_fields_a_destination_release_lacks_are_dropped_with_a_warning():
    older = json.loads(json.dumps(spec()))
    del older["components"]["schemas"]["Dashboard"]["properties"]["crossfilter_enabled"]
    compat = Compatibility("24.0.1", fields_of(older))
    body, notes = compat.filter("Dashboard", {"title": "t", "crossfilter_enabled": True})
    assert body == {"title": "t"}
    assert notes == ["destination Looker 24.0.1 has no Dashboard.crossfilter_enabled: not sent"]
    assert Compatibility("26.12.3").filter("Dashboard", {"crossfilter_enabled": True})[1] == []


def test_field_diff_treats_empty_string_as_unset_and_nested_as_subset():
    assert field_diff({"a": "", "b": {"x": 1}}, {"a": None, "b": {"x": 1, "y": 2}}) == {}
    assert field_diff({"a": "new"}, {"a": "old"}) == {"a": ["old", "new"]}


def test_a_source_refusal_is_raised_afresh_each_time():
    """A refusal is kept for the session as its message: each read raises a new exception, so
    no one exception object gathers the frames of every worker that hit it."""
    from restore.engine.core.errors import LookerApiError
    from restore.engine.looker.source import SourceInstance, SourceUnavailable

    class Gone:
        def get(self, path: str) -> dict:
            raise LookerApiError("not found", status=404, method="GET", path=path)

    source = SourceInstance("origin", Gone())
    raised = []
    for _ in range(3):
        with pytest.raises(SourceUnavailable, match="the source instance origin has none") as exc:
            source.query(42)
        raised.append(exc.value)
    assert source.reads == 1
    assert len({id(e) for e in raised}) == 3
    assert all(str(e) == str(raised[0]) for e in raised)
