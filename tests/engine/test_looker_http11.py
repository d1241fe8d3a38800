"""The transport's lean HTTP/1.1 exchange against a raw socket server: the bytes it sends are
urllib3's, and the answers it reads (chunked, gzip, deflate, Connection: close, a server that
drops kept-alive connections, a timeout, an answer cut short) end as they did through urllib3."""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
import zlib

import pytest

from restore.engine.core.errors import LookerApiError
from restore.engine.looker.client import LookerClient, LookerSettings

TOKEN = {"access_token": "t", "token_type": "Bearer", "expires_in": 3600}


class RawServer:
    """Reads each request off the socket as bytes and answers what `answer(path)` says:
    (raw answer bytes or None to close without answering, close the connection after it)."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.raw: list[bytes] = []
        self.connections = 0
        self.closed = threading.Semaphore(0)  # released each time the server closed a connection
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        with conn, reader:
            while request := _read_request(reader):
                self.raw.append(request)
                path = request.split(b" ", 2)[1].decode()
                reply, close = self.answer(path)
                if reply is None:
                    break
                conn.sendall(reply)
                if close:
                    break
        self.closed.release()


def _read_request(reader) -> bytes:
    head = b""
    while line := reader.readline():
        head += line
        if line == b"\r\n":
            break
    if not head:
        return b""
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head + reader.read(length)


def reply(body: bytes = b"", status: bytes = b"200 OK", *headers: bytes) -> bytes:
    lines = [b"HTTP/1.1 " + status, *headers]
    if not any(h.lower().startswith((b"content-length", b"transfer-encoding")) for h in headers):
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def json_reply(path: str, *headers: bytes) -> bytes:
    value = TOKEN if path.endswith("/login") else {"path": path.split("?")[0]}
    return reply(json.dumps(value).encode(), b"200 OK", b"Content-Type: application/json", *headers)


@contextlib.contextmanager
def raw_server(answer=None):
    server = RawServer(answer or (lambda path: (json_reply(path), False)))
    try:
        yield server
    finally:
        server.sock.close()


def client(server, timeout: int = 120) -> LookerClient:
    return LookerClient(LookerSettings(server.url + "/", "id", "secret", timeout=timeout))


def test_the_lean_exchange_sends_byte_for_byte_what_urllib3_sends():
    body = {"title": 'Über ☃ "q"', "n": [1, 2.5, None, True], "deep": {"a": [{}]}}
    params = {"fields": "id,title", "limit": 5, "filters": {"a": "b c/d"}}
    calls = [
        lambda c: c.login(),
        lambda c: c.get("/dashboards/1", params),
        lambda c: c.get("/looks"),
        lambda c: c.post("/folders", body, params),
        lambda c: c.post("/folders"),
        lambda c: c.patch("/dashboards/a%2Fb", body),
        lambda c: c.put("/users/7/roles", ["1", "2"]),
        lambda c: c.delete("/looks/3"),
    ]
    with raw_server() as server:
        for lean in (True, False):
            c = client(server)
            if not lean:
                c.transport._lean = None
            for call in calls:
                call(c)
            assert c.transport._host_pool.num_requests == (0 if lean else len(calls))
    assert len(server.raw) == 2 * len(calls)
    assert server.raw[: len(calls)] == server.raw[len(calls) :]


def test_chunked_gzip_and_deflate_answers_are_read_whole():
    payload = json.dumps({"path": "x", "big": "é" * 5000}).encode()
    answers = {
        "/api/4.0/chunked": reply(
            b"5;ext=1\r\n"
            + payload[:5]
            + b"\r\n%x\r\n" % (len(payload) - 5)
            + payload[5:]
            + b"\r\n0\r\nX-Trailer: 1\r\n\r\n",
            b"200 OK",
            b"Transfer-Encoding: chunked",
            b"Content-Type: application/json",
        ),
        "/api/4.0/gzip": reply(
            gzip.compress(payload),
            b"200 OK",
            b"Content-Encoding: gzip",
            b"Content-Type: application/json",
        ),
        "/api/4.0/deflate": reply(
            zlib.compress(payload),
            b"200 OK",
            b"Content-Encoding: deflate",
            b"Content-Type: application/json",
        ),
    }
    with raw_server(lambda path: (answers.get(path) or json_reply(path), False)) as server:
        c = client(server)
        for path in ("/chunked", "/gzip", "/deflate", "/chunked"):
            assert c.get(path) == json.loads(payload)
        assert server.connections == 1  # every answer read to its end: the connection kept


def test_connection_close_and_a_server_that_drops_idle_connections():
    with raw_server(lambda path: (json_reply(path, b"Connection: close"), False)) as server:
        c = client(server)
        for n in range(3):
            assert c.get(f"/looks/{n}") == {"path": f"/api/4.0/looks/{n}"}
        assert server.connections == 4  # the login and each GET on a connection of their own
    with raw_server(lambda path: (json_reply(path), True)) as server:
        c = client(server)  # the server closes after each answer without saying so
        c.login()
        for n in range(3):
            server.closed.acquire(timeout=10)  # the previous connection closed by the server
            assert c.patch(f"/looks/{n}", {"title": "t"}) == {"path": f"/api/4.0/looks/{n}"}
        assert server.connections == 4 and len(server.raw) == 4


def test_a_write_whose_connection_drops_is_a_connection_error_never_sent_twice():
    def answer(path):
        return (None, True) if "/looks/" in path else (json_reply(path), False)

    with raw_server(answer) as server:
        c = client(server)
        c.login()
        for call in (lambda: c.patch("/looks/1", {"title": "t"}), lambda: c.get("/looks/2")):
            with pytest.raises(LookerApiError) as dropped:
                call()
            assert dropped.value.kind == "connection" and dropped.value.status is None
        assert [r.split(b" ")[0] for r in server.raw] == [b"POST", b"PATCH", b"GET"]


def test_a_silent_server_times_out_and_its_connection_is_not_reused():
    hold = threading.Event()

    def answer(path):
        if path.endswith("/slow"):
            hold.wait(10)
            return None, True
        return json_reply(path), False

    with raw_server(answer) as server:
        c = client(server, timeout=1)
        c.login()
        with pytest.raises(LookerApiError) as slow:
            c.get("/slow")
        hold.set()
        assert slow.value.kind == "timeout" and slow.value.status is None
        assert c.get("/after") == {"path": "/api/4.0/after"}
        assert server.connections == 2


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"HTTP/1.1 100 Continue\r\n\r\n" + json_reply("/api/4.0/x"), {"path": "/api/4.0/x"}),
        (b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"a": 1}', {"a": 1}),
        (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", "connection"),
        (reply(b"{}", b"200 OK", b"Content-Length: 50"), "connection"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", None),
    ],
    ids=["100-continue", "http-1.0-until-close", "header-too-long", "cut-short", "upgrade"],
)
def test_unusual_answers_end_as_through_urllib3(answer, expected):
    for lean in (True, False):

        def script(path):
            return (json_reply(path), False) if path.endswith("/login") else (answer, True)

        with raw_server(script) as server:
            c = client(server)
            if not lean:
                c.transport._lean = None
            if isinstance(expected, str):
                with pytest.raises(LookerApiError) as failed:
                    c.get("/x")
                assert failed.value.kind == expected, lean
            else:
                assert c.get("/x") == expected, lean


def test_an_error_answer_keeps_its_headers_case_insensitively():
    answer = reply(
        b'{"message": "slow down"}', b"429 Too Many", b"retry-after: 4", b"X-A: 1", b"x-a: 2"
    )
    with (
        raw_server(lambda p: (answer, False) if "/dash" in p else (json_reply(p), False)) as server,
        pytest.raises(LookerApiError) as limited,
    ):
        client(server).get("/dashboards/1")
    assert limited.value.status == 429 and limited.value.retry_after == 4.0
    assert limited.value.headers["X-A"] == "1, 2" and "slow down" in str(limited.value)
