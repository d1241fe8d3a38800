"""The indexes of the rows written for every item restored: each foreign key still leads an index
(deleting a session or a destination finds its rows without a scan), and no index is a single
column that another index already starts with (in SQLite each one is a page more per insert)."""

from __future__ import annotations

import sqlite3

import pytest
from django.db import connection

from restore.models import IDMapping, ItemClaim, RestoreItemResult
from tests.procs import app_env, manage

PER_ITEM = [RestoreItemResult, ItemClaim, IDMapping]


def _indexes(table: str) -> dict[str, dict]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {name: info for name, info in found.items() if info["index"] or info["unique"]}


@pytest.mark.django_db
@pytest.mark.parametrize("model", PER_ITEM, ids=lambda m: m.__name__)
def test_every_foreign_key_leads_an_index(model):
    leading = {info["columns"][0] for info in _indexes(model._meta.db_table).values()}
    keys = [f.column for f in model._meta.concrete_fields if f.is_relation]
    assert keys and all(column in leading for column in keys), (keys, leading)


@pytest.mark.django_db
@pytest.mark.parametrize("model", PER_ITEM, ids=lambda m: m.__name__)
def test_no_index_is_the_start_of_another(model):
    found = _indexes(model._meta.db_table)
    partial = {i.name for i in model._meta.indexes if i.condition is not None}
    columns = {name: info["columns"] for name, info in found.items() if not info["primary_key"]}
    redundant = [
        name
        for name, cols in columns.items()
        if not found[name]["unique"]
        and name not in partial
        and any(other != name and more[: len(cols)] == cols for other, more in columns.items())
    ]
    assert redundant == []


def test_the_migration_keeps_every_row_and_goes_back(tmp_path):
    """Forward: the indexes are gone, the rows still there, and the tables were not copied (they
    keep their first page); backward: the indexes are back."""
    env = app_env(tmp_path, DEBUG="false")
    manage(env, "migrate", "-v", "0")
    manage(env, "migrate", "restore", "0012", "-v", "0")
    db = tmp_path / "db.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO restore_destination (id, name, base_url, client_id,"
            " client_secret_encrypted, verify_ssl, timeout, looker_version, last_check_message,"
            " created_at, updated_at) VALUES"
            " (1, 'prod', 'https://x.looker.com', 'cid', '', 1, 120, '', '', '2026-12-06',"
            " '2026-12-06')"
        )
        conn.execute(
            "INSERT INTO restore_idmapping (id, source_instance, destination_instance_id,"
            " content_type, source_id, destination_id, created_at, updated_at) VALUES"
            " (7, 'https://a.looker.com', 1, 3, '12', '34', '2026-12-06', '2026-12-06')"
        )
    before, pages = _rows(db), _root_pages(db)
    assert "restore_idmapping_destination_instance_id_88a5e693" in _sqlite_indexes(db)

    manage(env, "migrate", "-v", "0")
    after = _sqlite_indexes(db)
    assert _rows(db) == before and _root_pages(db) == pages
    assert "result_added_by_idx" in after
    for gone in (
        "idmap_pair_idx",
        "restore_idmapping_destination_instance_id_88a5e693",
        "restore_itemclaim_destination_id_4869fe7e",
        "restore_restoreitemresult_added_by_id_5c171a8d",
        "restore_restoreitemresult_session_id_5042cd30",
    ):
        assert gone not in after

    manage(env, "migrate", "restore", "0012", "-v", "0")
    back = _sqlite_indexes(db)
    assert "restore_restoreitemresult_session_id_5042cd30" in back
    assert "restore_itemclaim_destination_id_4869fe7e" in back
    assert "result_added_by_idx" not in back
    assert _rows(db) == before


def _sqlite_indexes(db) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}


def _rows(db) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT * FROM restore_idmapping ORDER BY id").fetchall()


def _root_pages(db) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT name, rootpage FROM sqlite_master WHERE type='table'"))
