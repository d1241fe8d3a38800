"""The backup reader on lookervault's own files, on broken and foreign files, and at scale."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tracemalloc
from pathlib import Path

import msgspec
import pytest

from looker_emulator.backup import BackupWriter
from restore.engine.backup.reader import (
    BackupIntegrityError,
    BackupNotFound,
    CorruptItemError,
    NotLookervaultBackup,
    NotSQLiteFile,
    Selection,
    UnsupportedSchemaVersion,
    open_backup,
)
from restore.engine.core.content_types import ContentType

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
PARALLEL = FIXTURES / "lookervault-0.1.0-parallel.db"
SEQUENTIAL = FIXTURES / "lookervault-0.1.0-sequential.db"

pytestmark = pytest.mark.skipif(not PARALLEL.exists(), reason="shared fixtures not available")


def ids(reader, selection=None) -> list[str]:
    return [f"{i.content_type.slug}:{i.id}" for i in reader.iter_items(selection)]


def writable_copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o644)
    return dst


# -- lookervault's own backups ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "style"),
    [(PARALLEL, "plain"), (SEQUENTIAL, "composite")],
    ids=["parallel", "sequential"],
)
def test_it_verifies_both_fixtures(path: Path, style: str) -> None:
    with open_backup(path) as reader:
        report = reader.verify(full=True)
        assert report.ok, report.problems
        assert report.schema_version == 4
        assert report.id_style == style
        assert report.checked_items == 23
        assert report.counts[ContentType.DASHBOARD] == 2
        assert report.counts[ContentType.EXPLORE] == 1
        assert sum(report.counts.values()) == 23
        # lookervault never records which instance a backup came from
        assert reader.source_instance() is None


def test_both_id_styles_hold_the_same_content_under_the_same_plain_ids() -> None:
    with open_backup(PARALLEL) as par, open_backup(SEQUENTIAL) as seq:
        a = {(i.content_type, i.id): i.content for i in par.iter_items()}
        b = {(i.content_type, i.id): i.content for i in seq.iter_items()}
        assert a == b
        assert (ContentType.EXPLORE, "thelook::products") in a
        assert (ContentType.LOOKML_MODEL, "thelook") in a
        raw = {i.raw_id for i in seq.iter_items()}
        assert {"dashboard::101", "lookml_model::thelook", "explore::thelook::products"} <= raw


@pytest.mark.parametrize("path", [PARALLEL, SEQUENTIAL], ids=["parallel", "sequential"])
@pytest.mark.parametrize(
    ("ct", "typed", "plain"),
    [
        ("dashboard", "101", "101"),
        ("dashboard", "dashboard::101", "101"),
        ("lookml_model", "thelook", "thelook"),
        ("lookml_model", "lookml_model::thelook", "thelook"),
        ("explore", "thelook::products", "thelook::products"),
        ("explore", "explore::thelook::products", "thelook::products"),
        ("user", " 7 ", "7"),
    ],
)
def test_get_item_accepts_plain_and_composite_ids(
    path: Path, ct: str, typed: str, plain: str
) -> None:
    with open_backup(path) as reader:
        item = reader.get_item(ct, typed)
        assert item is not None
        assert item.id == plain
        assert item.content_type == ContentType.parse(ct)
        assert item.error is None
        assert reader.get_item(ct, "does-not-exist") is None


def test_item_fields_come_from_the_row() -> None:
    with open_backup(PARALLEL) as reader:
        look = reader.get_item(ContentType.LOOK, "21")
        assert look.name == "An SDK Look"
        assert (look.owner_id, look.owner_email, look.folder_id) == (7, "lloyd@example.com", "12")
        assert look.updated_at == "2025-12-10T16:41:22+00:00"
        assert look.deleted_at is None and not look.deleted
        assert look.size == len(look.data) == 869
        assert look.content["query"]["model"] == "system__activity"


# -- selection ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [PARALLEL, SEQUENTIAL], ids=["parallel", "sequential"])
def test_selection_filters(path: Path) -> None:
    with open_backup(path) as r:
        assert ids(r, Selection(content_types=["looks"])) == ["look:21", "look:22"]
        assert ids(r, {"types": [ContentType.DASHBOARD], "ids": ["dashboard::102", "999"]}) == [
            "dashboard:102"
        ]
        assert ids(r, Selection(ids="21, 101")) == ["dashboard:101", "look:21", "role:21"]
        assert ids(r, Selection(search="sdk")) == [
            "dashboard:101",
            "look:21",
            "scheduled_plan:91",
        ]
        assert ids(r, Selection(search="BRAND")) == ["look:22"]
        assert ids(r, Selection(owner="8")) == ["dashboard:102", "look:22"]
        # An email resolves through the backup's users, so dashboards (no owner_email) match too.
        assert ids(r, Selection(owner="ZACH@example.com")) == ["dashboard:102", "look:22"]
        assert ids(r, Selection(owner="user::7", content_types=["board"])) == ["board:61"]
        assert ids(r, Selection(folder_id="12")) == ["dashboard:101", "look:21"]
        assert ids(r, Selection(folder_id="folder::12", include_subfolders=True)) == [
            "dashboard:101",
            "dashboard:102",
            "look:21",
            "look:22",
        ]
        assert ids(r, Selection(folder_id="1", include_subfolders=False)) == []
        assert r.count(Selection(updated_after="2025-12-10", updated_before="2025-12-10")) == 9
        assert r.count(Selection(updated_before="2025-12-09")) == 0
        assert r.count(Selection(updated_after="2025-12-11", content_types=["dashboard"])) == 0
        assert r.count(Selection(updated_to="2025-12-10T16:41:22+00:00")) == 9
        assert r.count() == 23


@pytest.mark.parametrize("path", [PARALLEL, SEQUENTIAL], ids=["parallel", "sequential"])
@pytest.mark.parametrize(
    "selection",
    [
        {},
        {"include_deleted": True},
        {"search": "sdk"},
        {"owner": "zach@example.com"},
        {"folder_id": "12", "include_subfolders": True},
        {"types": ["look", "dashboard"], "updated_after": "2025-12-10"},
        {"ids": "21, 101, 102"},
    ],
)
def test_a_page_and_a_count_are_what_iterating_gives(path: Path, selection: dict) -> None:
    """page() and count() match rows without reading objects; what they return must not differ."""
    with open_backup(path) as r:
        every = list(r.iter_items(selection))
        assert r.count(selection) == len(every)
        for offset, limit in [(0, 5), (3, 4), (len(every) - 2, 5), (len(every), 5)]:
            page = r.page(selection, max(offset, 0), limit)
            assert page == every[max(offset, 0) : max(offset, 0) + limit]  # every field, blob too
            assert all(item.error is None and item.content for item in page)


def test_a_page_deep_in_a_long_folder_list(tmp_path: Path) -> None:
    path = tmp_path / "deep.db"
    with BackupWriter(path) as writer:
        for i in range(1, 1001):
            parent = str(i - 1) if i > 1 else None
            writer.add("folder", {"id": str(i), "name": f"f{i}", "parent_id": parent})
            writer.add("look", {"id": str(i), "title": f"look {i}", "folder_id": str(i)})
    with open_backup(path) as r:
        sel = Selection(types=["look"], folder_id="500", include_subfolders=True)  # > 400 IDs
        assert r.count(sel) == 501
        assert [i.id for i in r.page(sel, 495, 10)] == [str(i) for i in range(995, 1001)]
        assert r.page(sel, 495, 10)[0].content["title"] == "look 995"


def test_a_name_search_folds_case_beyond_ascii(tmp_path: Path) -> None:
    out = tmp_path / "names.db"
    with BackupWriter(out) as writer:
        writer.add("dashboard", {"id": "1", "title": "Umsatz Straße"})
        writer.add("dashboard", {"id": "2", "title": "ÉTÉ sales"})
        writer.add("dashboard", {"id": "3", "title": "Other"})
    with open_backup(out) as r:
        assert ids(r, Selection(search="STRASSE")) == ["dashboard:1"]
        assert [i.id for i in r.page(Selection(search="été"), 0, 5)] == ["2"]
        assert r.count(Selection(search="s")) == 2


def test_soft_deleted_items_are_left_out_unless_asked(tmp_path: Path) -> None:
    out = tmp_path / "deleted.db"
    with BackupWriter(out) as writer:
        writer.add("dashboard", {"id": "1", "title": "live", "deleted": False})
        writer.add(
            "dashboard",
            {"id": "2", "title": "trashed", "deleted": True},
            deleted_at="2025-12-01T00:00:00+00:00",
        )
    with open_backup(out) as r:
        assert ids(r) == ["dashboard:1"]
        assert ids(r, Selection(include_deleted=True)) == ["dashboard:1", "dashboard:2"]
        assert r.get_item("dashboard", "2").deleted
        assert r.counts() == {ContentType.DASHBOARD: 2}
        assert r.counts(include_deleted=False) == {ContentType.DASHBOARD: 1}


def test_selection_rejects_unknown_types_and_fields() -> None:
    with pytest.raises(ValueError):
        Selection(content_types=["widgets"])
    with pytest.raises(ValueError):
        Selection(colour="red")


# -- broken and foreign files -------------------------------------------------------------------
def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BackupNotFound, match="no backup file"):
        open_backup(tmp_path / "nope.db")


@pytest.mark.parametrize("content", [b"", os.urandom(4096), b"PK\x03\x04 a zip file" * 100])
def test_not_a_sqlite_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(content)
    with pytest.raises(NotSQLiteFile, match="is not a SQLite file"):
        open_backup(path)


def test_a_foreign_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    with pytest.raises(NotLookervaultBackup, match="missing table content_items"):
        open_backup(path)


def test_a_table_missing_a_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER)")
        conn.execute("CREATE TABLE content_items (id TEXT, content_type INTEGER, name TEXT)")
    with pytest.raises(NotLookervaultBackup, match="has no column content_data"):
        open_backup(path)


def test_an_unsupported_schema_version(tmp_path: Path) -> None:
    path = writable_copy(PARALLEL, tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (9, '2030-01-01', 'future')")
    conn.close()
    with pytest.raises(UnsupportedSchemaVersion, match="unsupported schema version 9"):
        open_backup(path)


def test_a_truncated_backup_is_refused_as_damaged(tmp_path: Path) -> None:
    path = writable_copy(PARALLEL, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(BackupIntegrityError, match="damaged SQLite file; integrity check failed"):
        open_backup(path)


def test_damaged_pages_fail_verification_not_the_process(tmp_path: Path) -> None:
    """Scribble over the middle of the file: opening works, verification names the damage."""
    path = writable_copy(PARALLEL, tmp_path)
    data = bytearray(path.read_bytes())
    page = 16384
    start = (5 - 1) * page  # page 5: idx_content_type, an index of content_items
    data[start : start + 12] = b"\xff" * 12
    path.write_bytes(bytes(data))
    with open_backup(path) as reader:
        report = reader.verify(full=True)
    assert not report.ok
    assert any(p.startswith("integrity check failed") for p in report.problems), report.problems
    with pytest.raises(BackupIntegrityError, match="verification failed"):
        report.raise_if_failed()
    with open_backup(path) as reader:
        # The damaged index serves "active items only" queries: reading them says so.
        with pytest.raises(BackupIntegrityError, match="damaged; integrity check failed"):
            list(reader.iter_items())
        assert len(list(reader.iter_items(Selection(include_deleted=True)))) == 23


def test_missing_bookkeeping_tables_are_reported(tmp_path: Path) -> None:
    path = writable_copy(PARALLEL, tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE dead_letter_queue")
    conn.close()
    with open_backup(path) as reader:
        report = reader.verify()
    assert report.problems == ["not a complete lookervault backup: missing table dead_letter_queue"]


def test_a_garbage_blob_fails_only_that_item(tmp_path: Path) -> None:
    path = writable_copy(PARALLEL, tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE content_items SET content_data = ? WHERE id = '101' AND content_type = 1",
            (b"\xc1 not msgpack at all",),
        )
        conn.execute(
            "UPDATE content_items SET content_data = ? WHERE id = '22' AND content_type = 2",
            (msgspec.msgpack.encode([1, 2, 3]),),
        )
    conn.close()
    with open_backup(path) as reader:
        items = list(reader.iter_items())
        assert len(items) == 23
        broken = {i.label: i.error for i in items if i.error}
        assert set(broken) == {"dashboard 101", "look 22"}
        assert "does not decode" in broken["dashboard 101"]
        assert "not a map" in broken["look 22"]
        with pytest.raises(CorruptItemError, match="dashboard 101"):
            _ = reader.get_item("dashboard", "101").content
        assert reader.get_item("dashboard", "102").content["title"] == "EMEA activity"
        assert [i.label for i in reader.page({"types": ["dashboard"]}, 0, 1)] == ["dashboard 101"]
        assert reader.page({"types": ["dashboard"]}, 0, 1)[0].error == broken["dashboard 101"]
        report = reader.verify()
        assert not report.ok and report.corrupt_items == 2
        assert any(p.startswith("dashboard 101:") for p in report.problems)


def test_it_never_writes_to_the_backup(tmp_path: Path) -> None:
    path = writable_copy(PARALLEL, tmp_path)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with open_backup(path) as reader:
        reader.verify(full=True)
        list(reader.iter_items(Selection(include_deleted=True)))
        with pytest.raises(sqlite3.OperationalError):
            reader._conn.execute("DELETE FROM content_items")
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_paths_with_uri_characters(tmp_path: Path) -> None:
    odd = tmp_path / "my backups #1?" / "back up 100%.db"
    odd.parent.mkdir()
    shutil.copyfile(PARALLEL, odd)
    with open_backup(str(odd)) as reader:
        assert reader.count() == 23


def test_it_reads_pending_wal_content(tmp_path: Path) -> None:
    """A backup copied while lookervault still had it open: rows only in the -wal file count."""
    path = tmp_path / "live.db"
    with BackupWriter(path) as writer:
        writer.add("group", {"id": "1", "name": "first"})
    writer_conn = sqlite3.connect(path)
    writer_conn.execute("PRAGMA wal_autocheckpoint = 0")
    writer_conn.execute(
        "INSERT INTO content_items VALUES ('2', 8, 'second', NULL, NULL, 'x', 'x', 'x', NULL, 1,"
        " ?, NULL)",
        (msgspec.msgpack.encode({"id": "2"}),),
    )
    writer_conn.commit()
    try:
        assert Path(f"{path}-wal").stat().st_size > 0
        with open_backup(path) as reader:
            assert ids(reader) == ["group:1", "group:2"]
    finally:
        writer_conn.close()


def test_long_id_and_folder_lists(tmp_path: Path) -> None:
    path = tmp_path / "many.db"
    with BackupWriter(path) as writer:
        for i in range(1, 1501):
            writer.add(
                "folder",
                {"id": str(i), "name": f"f{i}", "parent_id": str(i - 1) if i > 1 else None},
            )
            writer.add("look", {"id": str(i), "title": f"look {i}", "folder_id": str(i)})
    with open_backup(path) as r:
        wanted = [str(i) for i in range(1, 1501, 2)]
        assert [i.id for i in r.iter_items(Selection(types=["look"], ids=wanted))] == wanted
        deep = r.iter_items(Selection(types=["look"], folder_id="1000", include_subfolders=True))
        assert [i.id for i in deep] == [str(i) for i in range(1000, 1501)]


# -- scale ----------------------------------------------------------------------------------------
def test_streaming_a_large_backup_stays_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    n = 50_000
    with BackupWriter(path, batch_size=2000) as writer:
        for i in range(n):
            writer.add(
                "look",
                {
                    "id": str(i),
                    "title": f"Look {i}",
                    "user_id": str(i % 50),
                    "folder_id": "1",
                    "description": "x" * 200,
                    "deleted": False,
                },
            )
    with open_backup(path) as reader:
        tracemalloc.start()
        try:
            seen = total = 0
            for item in reader.iter_items(batch_size=500):
                total += len(item.content["description"])
                seen += 1
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            report = reader.verify()
            _, verify_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert seen == n and total == 200 * n
    assert report.ok and report.checked_items == n
    # The whole backup's objects would take well over 30 MB as Python dicts.
    assert peak < 5_000_000, peak
    assert verify_peak < 5_000_000, verify_peak


# -- backups written by lookervault's own `extract` command -------------------------------------
EXTRACTS = {
    "sequential": (FIXTURES / "lookervault-extract-sequential.db", "composite"),
    "parallel": (FIXTURES / "lookervault-extract-parallel.db", "plain"),
}


@pytest.mark.parametrize("name", sorted(EXTRACTS))
def test_it_reads_extract_backups_as_lookervault_writes_them(name: str) -> None:
    import datetime as dt

    path, style = EXTRACTS[name]
    with open_backup(path) as reader:
        report = reader.verify(full=True)
        assert report.ok, report.problems
        assert report.id_style == style
        assert reader.source_instance() is None
        dash = reader.get_item(ContentType.DASHBOARD, "dashboard::1").content
        # top-level timestamps are msgpack timestamps, decoded as datetimes
        assert isinstance(dash["created_at"], dt.datetime) and dash["created_at"].tzinfo
        # dashboards come from search_dashboards: no tiles, filters or layouts (absent, not empty)
        assert "dashboard_elements" not in dash and "dashboard_filters" not in dash
        # nested objects keep their own fields; their timestamps may be strings
        user = reader.get_item(ContentType.USER, "2").content
        assert isinstance(user["credentials_email"]["created_at"], str | dt.datetime)
        look = reader.get_item(ContentType.LOOK, "1").content
        assert "query" not in look and look["query_id"]
        model = reader.get_item(ContentType.LOOKML_MODEL, "lookml_model::ecommerce")
        assert model is not None and model.id == "ecommerce"
