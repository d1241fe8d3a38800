"""The HTTP/1.1 server: one asyncio event loop, httptools parsing, keep-alive.

Single-threaded on purpose: the state needs no locks, latency is `asyncio.sleep`, a hang is a long
sleep and a connection reset is `transport.abort()`. Requests on one connection are answered in order.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import math
import re
import signal
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools
import msgspec

from looker_emulator.errors import ApiError, generic_doc_url
from looker_emulator.faults import FaultInjector, Faults
from looker_emulator.resources import Api, Request
from looker_emulator.spec import API_PREFIX, Spec, load_spec
from looker_emulator.state import State, now_iso

CONTROL_PREFIX = "/_emulator/"
PUBLIC_OPS = frozenset({"login", "versions"})
UNVERSIONED = frozenset({"/api/login", "/api/logout"})
REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_SLASHES = re.compile("/{2,}")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


class NotLoopbackError(ValueError):
    """Raised when asked to bind to a non-loopback address without explicit permission."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind_host(host: str, allow_non_loopback: bool) -> None:
    if not is_loopback(host) and not allow_non_loopback:
        raise NotLoopbackError(
            f"refusing to bind to {host!r}: the emulator only listens on loopback "
            "(127.0.0.1, ::1) unless started with --allow-non-loopback"
        )


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    action: str | None = None  # "reset" (abort before answering), "reset_after", "hang"


class Stats:
    """Request counts since the last reset: by method+route+status, by status, creates by type."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.since = now_iso()
        self.total = 0
        self.by_route: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self.by_status: collections.Counter[str] = collections.Counter()
        self.by_operation: collections.Counter[str] = collections.Counter()
        self.creates: collections.Counter[str] = collections.Counter()
        self.faults: collections.Counter[str] = collections.Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    def record(self, method: str, route: str, op: str | None, status: str) -> None:
        self.total += 1
        self.by_route[(method, route, status)] += 1
        self.by_status[status] += 1
        if op:
            self.by_operation[op] += 1
            if status == "200" and op.startswith("create_"):
                self.creates[op[len("create_") :]] += 1

    def document(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "total": self.total,
            "requests": [
                {"method": m, "route": r, "status": s, "count": n}
                for (m, r, s), n in sorted(self.by_route.items())
            ],
            "by_status": dict(self.by_status),
            "by_operation": dict(self.by_operation),
            "creates": dict(self.creates),
            "faults": dict(self.faults),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


class Emulator:
    """The emulator's brain: API, faults, stats and the control API. Used from one event loop."""

    def __init__(
        self,
        state: State,
        *,
        faults: Faults | None = None,
        strict: bool = True,
        client_id: str = "lookervault",
        client_secret: str = "emulator-secret",
        spec: Spec | None = None,
    ) -> None:
        self.spec = spec or load_spec()
        # The start state, encoded (cheap to keep, and a private copy): POST reset?state=1 returns to it.
        self.initial = _encode(state.export(copy_records=False))
        self.api = Api(
            self.spec, state, strict=strict, client_id=client_id, client_secret=client_secret
        )
        self.injector = FaultInjector(faults)
        self.stats = Stats()
        self.allow_remote_control = False
        self.connections: set[HttpProtocol] = set()
        self.access_log: Callable[[str], None] | None = None  # e.g. print, for serve --access-log

    @property
    def state(self) -> State:
        return self.api.state

    def set_base_url(self, url: str) -> None:
        self.api.base_url = url

    # -- request processing ------------------------------------------------------------------------
    async def process(
        self, method: str, raw_url: bytes, headers: dict[str, str], body: bytes, peer_loopback: bool
    ) -> Response:
        url = httptools.parse_url(raw_url)
        path = urllib.parse.unquote(url.path.decode("latin-1"))
        if "//" in path:
            # The web servers in front of Looker collapse repeated slashes, and lookervault sends
            # `//api/4.0/login` (pydantic adds a trailing slash to its base URL).
            path = _SLASHES.sub("/", path)
        query = (
            dict(urllib.parse.parse_qsl(url.query.decode("latin-1"), keep_blank_values=True))
            if url.query
            else {}
        )
        if path.startswith(CONTROL_PREFIX):
            if not (peer_loopback or self.allow_remote_control):
                return self._error(
                    403, "The control API only answers on loopback", generic_doc_url(403)
                )
            return self.control(method, path[len(CONTROL_PREFIX) :], query, body)
        self.stats.in_flight += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
        started = time.monotonic()
        resp = None
        try:
            resp = await self._process_api(method, path, query, headers, body)
            return resp
        finally:
            self.stats.in_flight -= 1
            if self.access_log is not None:
                outcome = resp.action or resp.status if resp is not None else "cancelled"
                ms = (time.monotonic() - started) * 1000
                self.access_log(f"{method} {path} {outcome} {ms:.1f}ms")

    async def _process_api(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        match = None
        if path in UNVERSIONED:  # the SDK logs out through /api/logout, as Looker allows
            path = API_PREFIX + path[len("/api") :]
        if path.startswith(API_PREFIX):
            match = self.spec.match(method, path[len(API_PREFIX) :])
        template = API_PREFIX + match[0].template if match else "unmatched"
        op = match[0].operation_id if match else None
        injector = self.injector
        stats = self.stats

        rule = injector.rule_for(method, path, template if match else None)
        fate, delay = injector.draw()
        retry_after = None if rule is not None else injector.rate_limited()
        if rule is not None and rule.action == "delay":
            delay += rule.delay_ms / 1000.0
        if delay > 0:
            await asyncio.sleep(delay)

        if rule is not None and rule.action != "delay":
            stats.faults["rule_" + rule.action] += 1
            if rule.action in ("reset", "hang"):
                stats.record(method, template, op, rule.action)
                return Response(0, action=rule.action)
            if rule.action == "status":
                resp = self._error(
                    rule.status, REASONS.get(rule.status, "Error"), self._doc(match, rule.status)
                )
                if rule.status in (429, 503):
                    ra = rule.retry_after
                    if ra is None:  # a timed rule says when it ends, else "try again in a second"
                        left = (rule.until - time.monotonic()) if rule.until is not None else 1
                        ra = max(1, math.ceil(left))
                    resp.headers = (("Retry-After", str(ra)),)
                elif rule.retry_after is not None:
                    resp.headers = (("Retry-After", str(rule.retry_after)),)
                stats.record(method, template, op, str(resp.status))
                return resp
        if rule is not None and rule.action != "delay":
            fate = None  # a scripted rule decides this request's fate alone
        if retry_after is not None:
            stats.faults["rate_limited"] += 1
            resp = self._error(429, "Too Many Requests", self._doc(match, 429))
            resp.headers = (("Retry-After", str(retry_after)),)
            stats.record(method, template, op, "429")
            return resp
        if fate in ("reset", "hang"):
            stats.faults[fate] += 1
            stats.record(method, template, op, fate)
            return Response(0, action=fate)
        if fate == "error":
            stats.faults["error"] += 1
            status = injector.error_status()
            resp = self._error(
                status, REASONS.get(status, "Server Error"), self._doc(match, status)
            )
            stats.record(method, template, op, str(status))
            return resp

        resp = self._dispatch(method, path, query, headers, body, match)
        status = str(resp.status)
        if (rule is not None and rule.action == "reset_after") or fate == "reset_after":
            if fate == "reset_after":
                stats.faults["reset_after"] += 1
            resp.action = "reset_after"
            status = "reset_after"
        stats.record(method, template, op, status)
        if status == "reset_after" and resp.status == 200 and op and op.startswith("create_"):
            stats.creates[op[len("create_") :]] += 1
        return resp

    def _doc(self, match: Any, status: int) -> str:
        return match[0].doc_url(status) if match else generic_doc_url(status)

    def _error(self, status: int, message: str, doc_url: str) -> Response:
        return Response(
            status, _encode({"message": message, "documentation_url": doc_url}), (), None
        )

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        match: Any,
    ) -> Response:
        if match is None or not self.api.implemented(match[0].operation_id):
            resp = self._error(404, "Not found", generic_doc_url(404))
            if match is not None:
                resp.headers = (
                    ("X-Looker-Emulator", f"unimplemented operation {match[0].operation_id}"),
                )
            return resp
        route, params = match
        token = None
        user_id = None
        if route.operation_id not in PUBLIC_OPS:
            auth = headers.get("authorization")
            user_id = self.api.authenticate(auth)
            if user_id is None:
                return self._error(401, "Requires authentication.", route.doc_url(401))
            token = auth.partition(" ")[2].strip() if auth else None
        parsed: Any = None
        if body:
            ctype = headers.get("content-type", "")
            if "application/x-www-form-urlencoded" in ctype:
                parsed = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            else:
                try:
                    parsed = _decode(body)
                except msgspec.DecodeError as exc:
                    return self._error(400, f"Could not parse JSON body: {exc}", route.doc_url(400))
        for name in query:
            if name not in route.query_params:
                self.api.violations[(route.operation_id, name, "unknown_query_parameter")] += 1
        req = Request(route, params, query, parsed, user_id, token)
        try:
            result = self.api.handle(route.operation_id, req)
        except ApiError as exc:
            body_doc = exc.body(route.doc_url(exc.status))
            return Response(exc.status, _encode(body_doc), tuple(exc.headers.items()))
        if result is None and route.response_schema is None and method == "DELETE":
            return Response(204)
        return Response(200, _encode(self.injector.answer(result)))

    # -- control API -------------------------------------------------------------------------------
    def control(self, method: str, what: str, query: dict[str, str], body: bytes) -> Response:
        try:
            doc = _decode(body) if body else {}
        except msgspec.DecodeError as exc:
            return self._error(400, f"Could not parse JSON body: {exc}", generic_doc_url(400))
        key = (method, what.strip("/"))
        try:
            if key == ("GET", "stats"):
                return Response(200, _encode(self.stats_document()))
            if key == ("POST", "reset"):
                return Response(
                    200,
                    _encode(
                        self.reset(
                            state=_truthy(query.get("state")), faults=_truthy(query.get("faults"))
                        )
                    ),
                )
            if key == ("GET", "faults"):
                return Response(200, _encode(self.injector.faults.public()))
            if key == ("POST", "faults"):
                self.injector.update(doc)
                return Response(200, _encode(self.injector.faults.public()))
            if key == ("GET", "export"):
                return Response(200, _encode(self.state.export(copy_records=False)))
            if key == ("POST", "import"):
                self.import_state(State.from_document(doc))
                return Response(200, _encode({"imported": self.state.counts()}))
            if key == ("GET", "health"):
                return Response(200, _encode({"ok": True, "release": self.spec.release}))
        except (ValueError, TypeError) as exc:
            return self._error(400, str(exc), generic_doc_url(400))
        return self._error(404, "Not found", generic_doc_url(404))

    def stats_document(self) -> dict[str, Any]:
        """GET /_emulator/stats: request counts, creates, faults, spec violations, table sizes."""
        out = self.stats.document()
        out["spec_violations"] = [
            {"operation": op, "field": f, "code": c, "count": n}
            for (op, f, c), n in sorted(self.api.violations.items())
        ]
        out["state_counts"] = self.state.counts()
        return out

    def reset(self, *, state: bool = False, faults: bool = False) -> dict[str, Any]:
        """Reset stats; with state=True also the data (to what the server started with)."""
        self.stats.reset()
        self.api.violations.clear()
        if state:
            self.api.state = State.from_document(_decode(self.initial))
        if faults:
            self.injector.update({"clear": True})
        self.injector.reset_bucket()
        return {"reset": ["stats"] + (["state"] if state else []) + (["faults"] if faults else [])}

    def import_state(self, state: State) -> None:
        self.api.state = state


def drop_connections(emu: Emulator) -> None:
    """Abort every open client connection (at shutdown: keep-alive clients would linger)."""
    for proto in list(emu.connections):
        if proto.transport is not None:
            proto.transport.abort()


def _truthy(v: str | None) -> bool:
    return (v or "").lower() in ("1", "true", "yes")


class HttpProtocol(asyncio.Protocol):
    """One client connection: parse with httptools, answer requests in order."""

    __slots__ = (
        "emu",
        "transport",
        "parser",
        "url",
        "headers",
        "body",
        "queue",
        "task",
        "loopback",
        "closed",
        "_header_name",
    )

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.queue: collections.deque[tuple[str, bytes, dict[str, str], bytes, bool]] = (
            collections.deque()
        )
        self.task: asyncio.Task[None] | None = None
        self.loopback = True
        self.closed = False

    # asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.emu.connections.add(self)
        peer = transport.get_extra_info("peername")
        self.loopback = bool(peer) and is_loopback(peer[0])

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.emu.connections.discard(self)
        if self.task is not None:
            self.task.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._bad_request()
        except httptools.HttpParserError:
            self._bad_request()

    def _bad_request(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            body = _encode({"message": "Bad Request", "documentation_url": generic_doc_url(400)})
            self.transport.write(_head(400, len(body), (), False) + body)
            self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = {}
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("ascii")
        keep_alive = self.parser.should_keep_alive()
        self.queue.append((method, self.url, self.headers, b"".join(self.body), keep_alive))
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self.queue and not self.closed:
            method, url, headers, body, keep_alive = self.queue.popleft()
            try:
                resp = await self.emu.process(method, url, headers, body, self.loopback)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in a handler: answer 500, keep serving
                msg = _encode(
                    {
                        "message": f"Emulator error: {exc!r}",
                        "documentation_url": generic_doc_url(500),
                    }
                )
                resp = Response(500, msg)
            transport = self.transport
            if transport is None or transport.is_closing():
                return
            if resp.action == "reset":
                transport.abort()
                return
            if resp.action == "hang":
                await asyncio.sleep(self.emu.injector.faults.hang_s)
                transport.abort()
                return
            if resp.action == "reset_after":
                transport.abort()
                return
            transport.write(
                _head(resp.status, len(resp.body), resp.headers, keep_alive) + resp.body
            )
            if not keep_alive:
                transport.close()
                return


def _head(
    status: int, length: int, headers: tuple[tuple[str, str], ...], keep_alive: bool
) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    if status != 204:
        lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {length}")
    lines.extend(f"{k}: {v}" for k, v in headers)
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def start_server(
    emu: Emulator, host: str = "127.0.0.1", port: int = 0, *, allow_non_loopback: bool = False
) -> asyncio.base_events.Server:
    """Bind and start serving on the running loop; sets the emulator's base URL to the bound port."""
    check_bind_host(host, allow_non_loopback)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpProtocol(emu), host, port, reuse_address=True)
    bound = server.sockets[0].getsockname()
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    emu.set_base_url(f"http://{shown}:{bound[1]}")
    return server


def run_forever(
    emu: Emulator,
    host: str,
    port: int,
    *,
    allow_non_loopback: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (the CLI's `serve`), then return normally."""

    async def main() -> None:
        server = await start_server(emu, host, port, allow_non_loopback=allow_non_loopback)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if on_ready:
            on_ready(emu.api.base_url)
        async with server:
            await stop.wait()
            server.close()
            drop_connections(emu)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
