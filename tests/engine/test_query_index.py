"""The backup's query index: a query found wherever the backup holds it, whatever the order."""

from __future__ import annotations

from looker_emulator.backup import BackupWriter
from restore.engine.backup.queries import QueryIndex
from restore.engine.backup.reader import open_backup


def q(qid: str) -> dict:
    return {"id": qid, "model": "ecommerce", "view": "orders", "fields": [f"orders.f{qid}"]}


def test_queries_come_from_tiles_look_tiles_and_looks_in_any_order(tmp_path):
    path = tmp_path / "q.db"
    with BackupWriter(path) as writer:
        # dashboard 1 embeds query 11 in a tile and look 7's query 12 in a look tile
        tiles = [
            {"id": "1", "type": "vis", "query_id": "11", "query": q("11")},
            {"id": "2", "type": "vis", "look_id": "7", "look": {"id": "7", "query": q("12")}},
        ]
        writer.add("dashboard", {"id": "1", "title": "A", "dashboard_elements": tiles})
        # dashboard 2's tile holds only a query_id: its query is in dashboard 1 (met earlier)
        # and look 9's own query (a look stored with its query)
        later = [
            {"id": "3", "type": "vis", "query_id": "11"},
            {"id": "4", "type": "vis", "query_id": "13"},
        ]
        writer.add("dashboard", {"id": "2", "title": "B", "dashboard_elements": later})
        writer.add("look", {"id": "7", "title": "L7", "query_id": "12"})
        writer.add("look", {"id": "8", "title": "L8", "query_id": "99"})  # held nowhere
        writer.add("look", {"id": "9", "title": "L9", "query_id": "13", "query": q("13")})
    with open_backup(path) as reader:
        index = QueryIndex(reader)
        assert index.get("12")["fields"] == ["orders.f12"]
        assert index.get("11")["fields"] == ["orders.f11"]
        assert index.get("13")["fields"] == ["orders.f13"]
        assert index.get("99") is None
        assert index.missing() == 1
