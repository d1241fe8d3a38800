"""A destination without API 4.0 stops the session before any write, saying why."""

from __future__ import annotations

import pytest
from conftest import client_for, make_destination, quick, run

from restore.engine.run.session import start_session

pytestmark = pytest.mark.django_db(transaction=True)


def test_destination_without_api_40_is_refused_before_writing(
    source_emu, empty_emu, backup_factory
):
    backup = backup_factory(source_emu)
    dest = make_destination(empty_emu)
    old = {"looker_release_version": "7.20.0", "supported_versions": [{"version": "3.1"}]}
    empty_emu.call(lambda e: e.api.handlers.__setitem__("versions", lambda req: old))
    summary = run(start_session(backup, dest, quick()), client_for(empty_emu))
    assert summary["status"] == "failed"
    assert "does not offer API 4.0" in summary["error"]
    assert empty_emu.stats()["creates"] == {}
