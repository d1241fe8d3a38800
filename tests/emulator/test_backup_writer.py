"""The backup writer produces what lookervault 0.1.0 produces, checked against its own files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import msgspec
import pytest

from looker_emulator.backup import BackupWriter, content_row

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
PARALLEL = FIXTURES / "lookervault-0.1.0-parallel.db"
SEQUENTIAL = FIXTURES / "lookervault-0.1.0-sequential.db"
ROW_COLUMNS = (
    "id, content_type, name, owner_id, owner_email, created_at, updated_at, synced_at,"
    " deleted_at, content_size, content_data, folder_id"
)

pytestmark = pytest.mark.skipif(not PARALLEL.exists(), reason="shared fixtures not available")


def ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


def rows(path: Path) -> list[tuple]:
    return ro(path).execute(f"SELECT {ROW_COLUMNS} FROM content_items ORDER BY rowid").fetchall()


def rewrite(fixture: Path, out: Path, style: str) -> None:
    """Feed the fixture's own API objects and session config through our writer, in its order."""
    (config,) = ro(fixture).execute("SELECT config FROM extraction_sessions").fetchone()
    with BackupWriter(out, config=json.loads(config), id_style=style) as writer:
        for row in rows(fixture):
            writer.add(row[1], msgspec.msgpack.decode(row[10]))


@pytest.fixture(
    params=[("plain", PARALLEL), ("composite", SEQUENTIAL)], ids=["parallel", "sequential"]
)
def rewritten(request, tmp_path: Path) -> tuple[Path, Path]:
    style, fixture = request.param
    out = tmp_path / f"{style}.db"
    rewrite(fixture, out, style)
    return fixture, out


def test_it_writes_the_same_schema_sql_and_root_pages_as_lookervault(rewritten) -> None:
    fixture, out = rewritten
    query = "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master ORDER BY rowid"
    assert ro(out).execute(query).fetchall() == ro(fixture).execute(query).fetchall()


def test_it_matches_the_file_layout(rewritten) -> None:
    fixture, out = rewritten
    assert out.stat().st_size == fixture.stat().st_size
    assert not Path(f"{out}-wal").exists()
    header, fixture_header = out.read_bytes()[:100], fixture.read_bytes()[:100]
    assert header[16:18] == fixture_header[16:18] == (16384).to_bytes(2, "big")  # page size
    assert header[18:20] == fixture_header[18:20] == b"\x02\x02"  # WAL
    for pragma in ("page_count", "freelist_count", "auto_vacuum", "encoding", "user_version"):
        sql = f"PRAGMA {pragma}"
        assert ro(out).execute(sql).fetchall() == ro(fixture).execute(sql).fetchall(), pragma


def test_it_fills_the_bookkeeping_tables_like_lookervault(rewritten) -> None:
    fixture, out = rewritten
    for sql in (
        "SELECT version, description FROM schema_version ORDER BY version",
        "SELECT status, total_items, error_count, config, metadata, completed_at"
        " FROM extraction_sessions",
        "SELECT name, seq FROM sqlite_sequence ORDER BY name",
        "SELECT count(*) FROM restoration_sessions",
        "SELECT count(*) FROM id_mappings",
        "SELECT count(*) FROM dead_letter_queue",
        "SELECT count(*) FROM restoration_checkpoints",
        "SELECT count(*) FROM sync_checkpoints",
    ):
        assert ro(out).execute(sql).fetchall() == ro(fixture).execute(sql).fetchall(), sql
    (applied,) = ro(out).execute("SELECT applied_at FROM schema_version LIMIT 1").fetchone()
    assert "+" not in applied  # naive, like lookervault's datetime.now().isoformat()


def test_it_converts_every_object_to_the_same_row(rewritten) -> None:
    """Every column is lookervault's, except the ones lookervault fills with the time of extraction."""
    fixture, out = rewritten
    theirs, ours = rows(fixture), rows(out)
    assert len(ours) == len(theirs) == 23
    for mine, expected in zip(ours, theirs, strict=True):
        for column, a, b in zip(ROW_COLUMNS.split(", "), mine, expected, strict=True):
            if (
                b is not None
                and column in ("created_at", "updated_at", "synced_at")
                and b >= "2026"
            ):
                # "now" at extraction time: only its shape can match.
                assert len(a) == len(b) and a.endswith("+00:00") == b.endswith("+00:00"), column
            else:
                assert a == b, (expected[0], column, a, b)


def test_it_encodes_content_data_with_msgspec_msgpack() -> None:
    obj = {"id": "5", "title": "T", "user_id": "7", "user": {"email": "a@b.c"}, "folder_id": 9}
    row = content_row("dashboard", obj)
    assert row[10] == msgspec.msgpack.encode(obj)
    assert row[9] == len(row[10])
    assert row[:5] == ("5", 1, "T", 7, "a@b.c")
    assert row[11] == "9"
    assert content_row("lookml_model", {"name": "m"}, id_style="composite")[0] == "lookml_model::m"
    assert content_row("user", {"id": "3"})[2] == "Untitled 3"
    assert content_row("user", {"id": "3"}, id_style="composite")[2] == "3"


def test_it_refuses_to_overwrite_unless_told(tmp_path: Path) -> None:
    out = tmp_path / "b.db"
    BackupWriter(out).close()
    with pytest.raises(FileExistsError):
        BackupWriter(out)
    with BackupWriter(out, overwrite=True) as writer:
        writer.add("group", {"id": "1", "name": "g"})
    assert ro(out).execute("SELECT count(*) FROM content_items").fetchone() == (1,)
