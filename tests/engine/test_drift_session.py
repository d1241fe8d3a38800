"""A drift check as a session of kind `drift`, run by the one runner: it finds exactly what changed
since the backup, writes nothing (the emulator counts every request), is cancelled and resumed
like any session, and answers `restore drift --json`."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from io import StringIO

import pytest
from changes_scenario import Scenario, build, register, requests_by_method
from conftest import client_for, make_destination
from django.core.management import call_command
from looker_sdk.rtl.transport import HttpMethod

from looker_emulator.testing import running_emulator
from restore.engine import run_session, start_drift
from restore.engine.core.errors import RestoreError
from restore.engine.kinds.drift import DriftKind
from restore.engine.looker.client import NoGate
from restore.models import Backup, RestoreSession

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    with running_emulator(items=400, seed=11) as emu:
        yield build(emu, tmp_path_factory.mktemp("nightly"))


def first_backup(scenario: Scenario) -> Backup:
    return register(scenario.paths[:1])[0]


def findings(session: RestoreSession) -> dict[str, set]:
    kinds = {"updated": "changed", "skipped": "deleted", "created": "created"}
    out: dict[str, set] = {k: set() for k in kinds.values()}
    for code, sid, action in session.results.values_list("content_type", "source_id", "action"):
        if action in kinds:
            out[kinds[action]].add((code, sid))
    return out


def expected(s: Scenario) -> dict[str, set]:
    return {
        "changed": {(1, s.renamed_dashboard), (2, s.renamed_look), (1, s.tiled_dashboard)},
        "deleted": {(2, s.deleted_look)},
        "created": {(1, s.new_dashboard)},
    }


def test_a_drift_session_finds_the_changes_and_writes_nothing(scenario: Scenario) -> None:
    emu = scenario.emu
    session = start_drift(first_backup(scenario), make_destination(emu))
    before = requests_by_method(emu)
    summary = run_session(session.pk, client=client_for(emu))
    writes = requests_by_method(emu) - before
    assert summary["status"] == "completed", summary
    assert set(writes) == {"GET"}, writes
    assert findings(session) == expected(scenario)
    session.refresh_from_db()
    assert session.total > 400 and writes["GET"] <= 0.2 * session.total, (writes, session.total)


def test_a_drift_session_cancelled_and_resumed_finds_the_same(scenario: Scenario) -> None:
    emu = scenario.emu
    session = start_drift(first_backup(scenario), make_destination(emu))
    emu.set_faults(latency_ms=300)
    first: dict = {}
    thread = threading.Thread(
        target=lambda: first.update(run_session(session.pk, client=client_for(emu)))
    )
    before = requests_by_method(emu)
    thread.start()
    deadline = time.monotonic() + 120
    while not session.results.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    # The rest of the run slows to a crawl, so the cancel always lands before the end, however
    # long a loaded machine takes to get here.
    emu.set_faults(latency_ms=3000)
    assert session.cancel()
    thread.join(120)
    emu.set_faults(latency_ms=0)
    assert first["status"] == "cancelled", first
    session.refresh_from_db()
    assert session.results.count() < session.total
    session.resume()
    resumed = run_session(session.pk, client=client_for(emu))
    assert resumed["status"] == "completed", resumed
    assert set(requests_by_method(emu) - before) == {"GET"}
    assert findings(session) == expected(scenario)


def test_restore_drift_json(scenario: Scenario) -> None:
    backup = first_backup(scenario)
    make_destination(scenario.emu, "live")
    out = StringIO()
    call_command(
        "restore",
        "drift",
        "--backup",
        str(backup.pk),
        "--destination",
        "live",
        "--json",
        stdout=out,
    )
    doc = json.loads(out.getvalue())
    assert doc["status"] == "completed" and doc["session_id"]
    keys = {k: {(e["type"], e["id"]) for e in doc[k]} for k in ("changed", "deleted", "created")}
    s = scenario
    assert keys == {
        "changed": {
            ("dashboard", s.renamed_dashboard),
            ("look", s.renamed_look),
            ("dashboard", s.tiled_dashboard),
        },
        "deleted": {("look", s.deleted_look)},
        "created": {("dashboard", s.new_dashboard)},
    }
    renamed = next(e for e in doc["changed"] if e["id"] == s.renamed_look and e["type"] == "look")
    assert renamed["fields"]["title"][1] == "Orders, renamed"
    was = renamed["fields"]["title"][0]
    folders = s.look_folders  # the backup's folder named from the backup, the destination's
    assert renamed["changes"] == [  # from what the check read of the destination
        f'~ folder "{folders[0]}" → "{folders[1]}"',
        f'~ title "{was}" → "Orders, renamed"',
    ]


def test_the_drift_client_refuses_writes_below_its_json_verbs(scenario: Scenario) -> None:
    """Writes through the SDK and the transport, not only `.post`/`.patch`, are refused before
    they are sent: the emulator never sees one."""
    emu = scenario.emu
    session = start_drift(first_backup(scenario), make_destination(emu))
    kind = DriftKind(session)
    with contextlib.ExitStack() as stack:
        kind.open(stack)
        ctx = kind.open_context(client_for(emu), NoGate())
    dashboard = scenario.renamed_dashboard
    before = requests_by_method(emu)
    attempts = [
        lambda: ctx.client.post("/dashboards", {"title": "written"}),
        lambda: ctx.client.sdk.post("/dashboards", structure=str, body={"title": "written"}),
        lambda: ctx.client.sdk.delete(f"/dashboards/{dashboard}", structure=str),
        lambda: ctx.client.transport.request(
            HttpMethod.PATCH, f"{emu.url}/api/4.0/dashboards/{dashboard}", body=b"{}"
        ),
        lambda: ctx.client.sdk.auth.login_user(1),
    ]
    for attempt in attempts:
        with pytest.raises(RestoreError, match="writes nothing"):
            attempt()
    assert ctx.client.get(f"/dashboards/{dashboard}")["id"] == dashboard
    assert requests_by_method(emu) - before == {"GET": 1}
