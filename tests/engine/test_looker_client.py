"""The Looker seam against a real emulator: errors keep status/headers/body, one login, gate, 401."""

from __future__ import annotations

import threading

import pytest
from conftest import make_destination
from looker_sdk import error as sdk_error

from looker_emulator.testing import running_emulator
from restore.engine.errors import LookerApiError
from restore.engine.looker_client import LookerClient, LookerSettings, check_connection


@pytest.fixture
def emu():
    with running_emulator(items=20, seed=2) as running:
        yield running


def client(emu, **kw) -> LookerClient:
    return LookerClient(LookerSettings(emu.url, emu.client_id, emu.client_secret, **kw), workers=16)


def logins(emu) -> int:
    return emu.stats()["by_operation"].get("login", 0)


def test_http_error_keeps_status_headers_body_and_retry_after(emu):
    emu.set_faults(add_rules=[{"path": "*/dashboards/1", "status": 429, "retry_after": 7}])
    c = client(emu)
    with pytest.raises(LookerApiError) as caught:
        c.get("/dashboards/1")
    exc = caught.value
    assert exc.status == 429 and exc.transient and exc.retry_after == 7.0
    assert exc.method == "GET" and exc.path == "/api/4.0/dashboards/1"
    assert exc.kind == "http"


def test_validation_error_is_not_transient_and_carries_the_payload(emu):
    c = client(emu)
    with pytest.raises(LookerApiError) as caught:
        c.post("/folders", {"name": "x", "parent_id": "1", "id": "9"})
    assert caught.value.status == 422 and not caught.value.transient
    assert '"field":"id"' in caught.value.body.replace(" ", "")
    assert caught.value.request_payload == {"name": "x", "parent_id": "1", "id": "9"}


def test_connection_reset_and_timeout_are_told_apart(emu):
    c = client(emu, timeout=1)
    emu.set_faults(add_rules=[{"path": "*/dashboards/2", "action": "reset"}])
    with pytest.raises(LookerApiError) as reset:
        c.get("/dashboards/2")
    assert reset.value.status is None and reset.value.kind == "connection" and reset.value.transient
    emu.set_faults(add_rules=[{"path": "*/dashboards/3", "action": "hang"}])
    with pytest.raises(LookerApiError) as hung:
        c.get("/dashboards/3")
    assert hung.value.kind == "timeout"


def test_sixteen_threads_log_in_once(emu):
    c = client(emu)
    errors = []

    def work():
        try:
            c.get("/dashboards", {"fields": "id"})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert logins(emu) == 1


def test_expired_token_logs_in_again_transparently(emu):
    c = client(emu)
    c.login()
    emu.call(lambda e: e.api.tokens.clear())
    assert c.get("/dashboards/1")["id"] == "1"
    assert logins(emu) == 2


def test_gate_sees_every_request_and_its_status(emu):
    seen = []

    class Gate:
        def acquire(self):
            seen.append("acquire")

        def record(self, status, retry_after):
            seen.append((status, retry_after))

    c = client(emu)
    c.set_gate(Gate())
    emu.set_faults(add_rules=[{"path": "*/dashboards/1", "status": 429, "retry_after": 3}])
    with pytest.raises(LookerApiError):
        c.get("/dashboards/1")
    c.get("/dashboards/1")
    assert seen == ["acquire", (200, None), "acquire", (429, 3.0), "acquire", (200, None)]


def test_error_docs_are_never_fetched(emu, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("ErrorDocHelper must not run")

    monkeypatch.setattr(sdk_error.ErrorDocHelper, "lookup", boom)
    monkeypatch.setattr(sdk_error.ErrorDocHelper, "parse_and_lookup", boom)
    with pytest.raises(LookerApiError):
        client(emu).get("/dashboards/999999")


def test_no_credentials_in_the_environment(emu, monkeypatch):
    monkeypatch.setenv("LOOKERSDK_CLIENT_SECRET", "wrong")
    monkeypatch.setenv("LOOKERSDK_BASE_URL", "http://127.0.0.1:1")
    assert client(emu).get("/dashboards/1")["id"] == "1"


def test_pool_is_sized_to_the_workers(emu):
    adapter = client(emu).transport.session.get_adapter(emu.url)
    assert adapter._pool_maxsize >= 16


@pytest.mark.django_db
def test_check_connection_messages(emu):
    dest = make_destination(emu)
    assert check_connection(dest) == client(emu).versions()["looker_release_version"]
    assert dest.check_connection() and dest.looker_version
    dest.set_client_secret("wrong")
    with pytest.raises(LookerApiError, match="wrong client ID or secret"):
        check_connection(dest)
    dest.base_url = "http://127.0.0.1:9"
    with pytest.raises(LookerApiError, match="cannot reach"):
        check_connection(dest)
