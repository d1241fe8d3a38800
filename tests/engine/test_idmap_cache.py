"""The ID map's memory is bounded when the database holds every entry, and nothing is forgotten."""

from __future__ import annotations

from restore.engine.core.content_types import ContentType
from restore.engine.identity import idmap


def test_it_drops_the_oldest_entries_and_reads_them_back(destination, monkeypatch):
    monkeypatch.setattr(idmap, "CACHE_LIMIT", 50)
    ids = idmap.IdMap(destination)
    for n in range(200):
        ids.record(ContentType.LOOK, str(n), str(1000 + n))
    assert len(ids._cache) <= 50
    assert ids.get(ContentType.LOOK, "0") == "1000"  # evicted, read back from the database
    assert ids.knows_destination(ContentType.LOOK, "1001")


def test_a_dry_run_map_keeps_everything_in_memory(destination, monkeypatch):
    monkeypatch.setattr(idmap, "CACHE_LIMIT", 50)
    ids = idmap.IdMap(destination, write=False)
    for n in range(200):
        ids.record(ContentType.LOOK, str(n), f"(new {n})")
    assert ids.get(ContentType.LOOK, "0") == "(new 0)"  # nothing in the database to fall back on
