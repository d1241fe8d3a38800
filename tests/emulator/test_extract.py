"""extract under a busy or failing instance: retries what Looker says is transient, fails clean."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from looker_sdk import error

from looker_emulator.extract import ApiCallError, extract
from looker_emulator.testing import running_emulator
from restore.engine.backup.reader import Selection, open_backup


def contents(path: Path) -> dict:
    with open_backup(path) as reader:
        return {
            (i.content_type, i.id): i.content
            for i in reader.iter_items(Selection(include_deleted=True))
        }


def test_it_rides_out_rate_limits_server_errors_and_resets(tmp_path: Path) -> None:
    clean, busy = tmp_path / "clean.db", tmp_path / "busy.db"
    with running_emulator(items=80, seed=12) as emu:
        extract(emu.url, clean)
        emu.set_faults(
            add_rules=[
                {
                    "method": "GET",
                    "path": "*/looks/search",
                    "status": 429,
                    "count": 2,
                    "retry_after": 0,
                },
                {"method": "GET", "path": "*/dashboards/search", "status": 503, "count": 4},
                {"method": "GET", "path": "*/users", "action": "reset", "count": 1},
            ]
        )
        emu.reset()
        extract(emu.url, busy)
        stats = emu.stats()
    statuses = {(r["route"], r["status"]) for r in stats["requests"]}
    assert ("/api/4.0/looks/search", "429") in statuses
    assert ("/api/4.0/dashboards/search", "503") in statuses
    assert contents(busy) == contents(clean)


def test_a_permanent_error_fails_without_error_doc_lookups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """looker-sdk's ErrorDocHelper would fetch docs from the internet: extract never reaches it."""

    def no_network(*args, **kwargs):
        raise AssertionError("ErrorDocHelper was called")

    monkeypatch.setattr(error.ErrorDocHelper, "parse_and_lookup", no_network)
    monkeypatch.setattr(error.ErrorDocHelper, "get_index", no_network)
    out = tmp_path / "b.db"
    with running_emulator(items=20, seed=1) as emu:
        emu.set_faults(
            add_rules=[{"method": "GET", "path": "*/boards", "status": 403, "count": None}]
        )
        with pytest.raises(ApiCallError) as caught:
            extract(emu.url, out)
    assert caught.value.status == 403 and caught.value.path.endswith("/api/4.0/boards")
    assert not out.exists() and os.listdir(tmp_path) == []
