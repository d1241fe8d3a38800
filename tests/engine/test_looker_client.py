"""The Looker seam against a real emulator: errors keep status/headers/body, one login, gate, 401."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import make_destination
from looker_sdk import error as sdk_error

from looker_emulator.testing import running_emulator
from restore.engine.core.errors import LookerApiError
from restore.engine.looker.client import (
    LookerClient,
    LookerSettings,
    check_connection,
    check_destination,
)
from tests.procs import serving


@pytest.fixture
def emu():
    with running_emulator(items=20, seed=2) as running:
        yield running


def client(emu, **kw) -> LookerClient:
    return LookerClient(
        LookerSettings(emu.url, emu.client_id, emu.client_secret, **kw), in_flight=16
    )


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
    c = client(emu)
    assert c.transport.pool_maxsize >= 16
    pool = c.transport.pool.connection_from_url(emu.url)
    assert pool.pool.maxsize == c.transport.pool_maxsize and not pool.block


def test_query_params_reach_the_server_encoded(emu):
    c = client(emu)
    name = "a b&c=ü%/+"
    c.post("/folders", {"name": name, "parent_id": "1"})
    found = c.get("/folders/search", {"name": name, "fields": "id,name"})
    assert [f["name"] for f in found] == [name] and set(found[0]) == {"id", "name"}
    assert c.get("/folders/search", {"name": "a b&c"}) == []


def test_urllib3_never_retries_by_itself(emu):
    # Each rule fires once: had urllib3 retried (Retry-After on a 503, a read timeout), the call would
    # have succeeded on the second try.
    c = client(emu, timeout=1)
    gate = RecordingGate()
    c.set_gate(gate)
    emu.set_faults(add_rules=[{"path": "*/dashboards/1", "status": 503, "retry_after": 1}])
    with pytest.raises(LookerApiError) as unavailable:
        c.get("/dashboards/1")
    assert unavailable.value.status == 503 and unavailable.value.retry_after == 1.0
    emu.set_faults(add_rules=[{"path": "*/dashboards/4", "action": "delay", "delay_ms": 2500}])
    with pytest.raises(LookerApiError) as slow:
        c.get("/dashboards/4")
    assert slow.value.kind == "timeout" and slow.value.status is None
    assert gate.seen[-2:] == [(503, 1.0), (None, None)]
    assert c.get("/dashboards/4")["id"] == "4"


def test_connection_refused_is_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the client connects
    c = LookerClient(LookerSettings(f"http://127.0.0.1:{port}", "id", "secret"))
    gate = RecordingGate()
    c.set_gate(gate)
    with pytest.raises(LookerApiError) as refused:
        c.login()
    exc = refused.value
    assert exc.kind == "connection" and exc.status is None and exc.transient
    assert exc.method == "POST" and exc.path == "/api/4.0/login" and exc.request_payload is None
    assert gate.seen == [(None, None)]


def test_base_url_without_http_scheme_is_a_connection_error():
    with pytest.raises(LookerApiError) as refused:
        LookerClient(LookerSettings("looker.example.com", "id", "secret")).login()
    assert refused.value.kind == "connection" and "http://" in refused.value.body


def test_redirects_are_followed():
    with fake_looker() as server:
        c = LookerClient(LookerSettings(server.url, "id", "secret"))
        assert c.get("/old") == {"path": "/api/4.0/new"}
    assert server.seen[-2:] == [("GET", "/api/4.0/old"), ("GET", "/api/4.0/new")]


def test_the_json_verbs_send_byte_for_byte_what_looker_sdk_sends(no_proxy_env):
    """The verbs skip looker-sdk's APIMethods: the request line, every header (in order) and
    the body must stay those the SDK sends, and the answer the same JSON."""
    body = {"title": 'Über ☃ "q"', "n": [1, 2.5, None, True, -0.0], "deep": {"a": [{}]}}
    params = {"fields": "id,title", "limit": 5, "filters": {"a": "b c/d"}, "flag": True}
    with fake_looker() as server:
        c = LookerClient(LookerSettings(server.url + "/", "id", "secret"))
        c.login()
        pairs = [
            (lambda: c.get("/dashboards/1", params), "get", {"query_params": params}),
            (lambda: c.get("/looks"), "get", {}),
            (
                lambda: c.post("/folders", body, params),
                "post",
                {"body": body, "query_params": params},
            ),
            (lambda: c.post("/folders", [body, 1]), "post", {"body": [body, 1]}),
            (lambda: c.post("/folders"), "post", {}),
            (lambda: c.patch("/dashboards/a%2Fb", body), "patch", {"body": body}),
            (lambda: c.put("/users/7/roles", ["1", "2"]), "put", {"body": ["1", "2"]}),
            (lambda: c.delete("/looks/3"), "delete", {}),
        ]
        for ours, verb, kwargs in pairs:
            got = ours()
            ours_raw = server.raw[-1]
            path = urllib.parse.urlsplit(ours_raw[0].split()[1].decode()).path.removeprefix(
                "/api/4.0"
            )
            sdk_answer = getattr(c.sdk, verb)(path, structure=str, **kwargs)
            assert server.raw[-1] == ours_raw, verb
            if verb != "delete":
                assert got == json.loads(sdk_answer) == {"path": f"/api/4.0{path}"}
    assert (
        c.transport._host_pool.num_requests == 0
    )  # all over the lean exchange (test_looker_http11)


@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_proxy_from_the_environment_is_used(no_proxy_env):
    # looker.invalid does not resolve: only the proxy can answer, and it sees absolute-form requests.
    with fake_looker() as proxy:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        c = LookerClient(LookerSettings("http://looker.invalid", "id", "secret"))
        assert c.transport.proxy == proxy.url
        assert c.get("/dashboards", {"fields": "id"}) == {"path": "/api/4.0/dashboards"}
        assert proxy.seen == [
            ("POST", "http://looker.invalid/api/4.0/login"),
            ("GET", "http://looker.invalid/api/4.0/dashboards?fields=id"),
        ]
        no_proxy_env.setenv("NO_PROXY", "example.com,.invalid")
        bypass = LookerClient(LookerSettings("http://looker.invalid", "id", "secret"))
        assert bypass.transport.proxy is None
        assert type(bypass.transport.pool).__name__ == "PoolManager"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_verification_and_ca_bundle(tmp_path, no_proxy_env, settings):
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    with fake_looker(tls=(cert, key)) as server:
        looker = LookerSettings(server.url, "id", "secret")
        settings.LOOKERVAULT_CA_BUNDLE = ""
        with pytest.raises(LookerApiError) as untrusted:  # certifi's bundle does not know the cert
            LookerClient(looker).login()
        assert untrusted.value.kind == "connection" and "SSL" in untrusted.value.body
        insecure = LookerSettings(server.url, "id", "secret", verify_ssl=False)
        assert LookerClient(insecure).get("/x") == {"path": "/api/4.0/x"}
        settings.LOOKERVAULT_CA_BUNDLE = str(cert)  # REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE
        assert LookerClient(looker).get("/y") == {"path": "/api/4.0/y"}


class RecordingGate:
    def __init__(self) -> None:
        self.seen: list[tuple[int | None, float | None]] = []

    def acquire(self) -> None:
        return None

    def record(self, status, retry_after) -> None:
        self.seen.append((status, retry_after))


class FakeLooker(BaseHTTPRequestHandler):
    """Just enough Looker: login, a redirect (/old -> /new), and {"path": ...} for anything else.
    Records (method, request target): the target is absolute-form when the server acts as a proxy."""

    protocol_version = "HTTP/1.1"

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        sent = self.rfile.read(length)
        self.server.seen.append((self.command, self.path))
        self.server.raw.append((self.raw_requestline, list(self.headers.items()), sent))
        path = urllib.parse.urlsplit(self.path).path
        if path.endswith("/old"):
            self.send_response(302)
            self.send_header("Location", "/api/4.0/new")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        token = {"access_token": "t", "token_type": "Bearer", "expires_in": 3600}
        body = json.dumps(token if path.endswith("/login") else {"path": path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = answer

    def log_message(self, *args) -> None:
        return None


@contextlib.contextmanager
def fake_looker(tls=None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLooker)
    server.daemon_threads = True
    server.seen = []
    server.raw = []  # (request line, headers in order, body) of each request
    scheme = "http"
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    server.url = f"{scheme}://127.0.0.1:{server.server_port}"
    with serving(server):
        yield server


@pytest.mark.django_db
def test_check_connection_messages(emu):
    dest = make_destination(emu)
    assert check_connection(dest) == client(emu).versions()["looker_release_version"]
    assert check_destination(dest) and dest.looker_version
    dest.set_client_secret("wrong")
    with pytest.raises(LookerApiError, match="wrong client ID or secret"):
        check_connection(dest)
    dest.base_url = "http://127.0.0.1:9"
    with pytest.raises(LookerApiError, match="cannot reach"):
        check_connection(dest)


def test_an_id_is_one_path_segment_and_a_path_that_could_leave_its_resource_is_never_sent():
    """A crafted backup ID such as `5/../../users/1` stays inside the resource it names."""
    from restore.engine.core.errors import RestoreError
    from restore.engine.looker.client import quote_id

    crafted = "5/../../users/1"
    with fake_looker() as server:
        c = LookerClient(LookerSettings(server.url, "id", "secret"))
        c.get(f"/dashboards/{quote_id(crafted)}")
        assert server.seen[-1] == ("GET", "/api/4.0/dashboards/5%2F..%2F..%2Fusers%2F1")
        sent = len(server.seen)
        for path in (f"/dashboards/{crafted}", "/dashboards/..", "/users/1?x=1", "/users/1\n2"):
            with pytest.raises(RestoreError, match="not a Looker API path"):
                c.patch(path, {"title": "x"})
        assert len(server.seen) == sent
