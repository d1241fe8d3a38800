"""A lean HTTP/1.1 exchange with the destination's own origin, for the transport's hot path.

urllib3 and http.client wrote every request's headers through two layers of validation and parsed
every answer's headers with the `email` package: about half of a restore's CPU. This exchange sends
the same bytes (the request line, the Host line http.client writes, then the headers in order, each
line encoded and checked once and kept) over kept-alive connections that urllib3 itself opened (its
socket options, connect timeout, TLS context and hostname check, its connect errors), and reads the
answer minimally: the status line, the headers into a case-insensitive mapping, a body delimited by
Content-Length, chunked or the connection's end, and a Content-Encoding decoded by urllib3.

Errors are urllib3's (ReadTimeoutError, ProtocolError, the connect errors of its connection), so the
transport classifies them as before. A connection is used by one thread at a time: it is taken from
the idle stack and put back only once its answer was read whole. A kept-alive connection the server
closed is found before sending (as urllib3 does) and replaced; one that closes once the request is
on its way is never sent to again, and the request surfaces as a connection error, as with urllib3
(a write may have reached the server: the engine's intent rows settle it; a read is retried by the
execution layer, through the gate, like any other connection error).
"""

from __future__ import annotations

import collections
import io
import re
import select
import socket
import ssl
from typing import Any

import urllib3
import urllib3.exceptions

_MAX_LINE = 65536  # http.client's limits: a longer line or more headers is a protocol error
_MAX_HEADERS = 100
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
_NO_BODY = frozenset((204, 304))
# http.client's checks of a header name and value (a CR or LF could smuggle another header).
_LEGAL_NAME = re.compile(rb"[^:\s][^:\r\n]*").fullmatch
_ILLEGAL_VALUE = re.compile(rb"\n(?![ \t])|\r(?![ \t\n])").search


class Unusual(Exception):
    """A request this exchange leaves to urllib3 (nothing was sent): urllib3 handles it as before."""


class Answer:
    """What the transport reads of an answer: status, reason, headers, data, redirect target."""

    __slots__ = ("status", "reason", "headers", "data")

    def __init__(self, status: int, reason: str, headers: Headers, data: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.data = data

    def get_redirect_location(self) -> str | None | bool:
        """urllib3's: the Location of a redirect status, False for any other status."""
        return self.headers.get("location") if self.status in _REDIRECTS else False


class Headers(dict):  # type: ignore[type-arg]
    """The answer's headers under the names the server sent (`dict(h)` keeps them), read
    case-insensitively; a repeated header's values joined by ", " (urllib3's HTTPHeaderDict)."""

    __slots__ = ("_lower",)

    def __init__(self) -> None:
        super().__init__()
        self._lower: dict[str, str] = {}

    def add(self, name: str, value: str) -> None:
        key = name.lower()
        known = self._lower.get(key)
        if known is None:
            self._lower[key] = name
            dict.__setitem__(self, name, value)
        else:
            dict.__setitem__(self, known, f"{dict.__getitem__(self, known)}, {value}")

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        known = self._lower.get(name.lower())
        return default if known is None else dict.__getitem__(self, known)

    def __getitem__(self, name: str) -> str:
        known = self._lower.get(name.lower())
        if known is None:
            raise KeyError(name)
        return dict.__getitem__(self, known)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lower


class _Conn:
    """One kept-alive socket, its buffered reader and the read timeout last set on it."""

    __slots__ = ("sock", "reader", "timeout")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.timeout: float | None = -1.0

    def close(self) -> None:
        self.reader.close()
        self.sock.close()

    def dropped(self) -> bool:
        """urllib3's check before reusing a connection: readable while idle means closed (or
        sending what nobody asked for). poll, not select: a descriptor above 1023 is usual in a
        busy process."""
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        try:
            return bool(poller.poll(0))
        except OSError:
            return True


class Exchange:
    """Requests to one origin (`pool`'s host and port) over a small stack of idle connections."""

    def __init__(self, pool: urllib3.HTTPConnectionPool, maxsize: int) -> None:
        self.pool = pool
        self.maxsize = maxsize
        self._idle: collections.deque[_Conn] = collections.deque()
        self._lines: dict[tuple[str, str], bytes] = {}
        probe = pool._new_conn()  # never connected: its host, port and default port
        host, port = probe.host, probe.port
        pool.num_connections -= 1
        if ":" in host:
            host = f"[{host}]"
        self._host_line = _line("Host", host if port == probe.default_port else f"{host}:{port}")

    def request(
        self,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: urllib3.Timeout,
    ) -> Answer:
        """Send and read one answer; Unusual (before anything is sent) for what urllib3 should do."""
        head = self._head(method, target, headers)
        payload = head + body if body else head
        return self._exchange(self._take(timeout), payload, method, target, timeout)

    def _head(self, method: str, target: str, headers: dict[str, str]) -> bytes:
        if "User-Agent" not in headers or "Accept-Encoding" not in headers:
            raise Unusual("urllib3 adds its own User-Agent or Accept-Encoding")
        parts = [f"{method} {target} HTTP/1.1\r\n".encode("ascii"), self._host_line]
        lines = self._lines
        for item in headers.items():
            line = lines.get(item)
            if line is None:
                if type(item[1]) is not str or item[0].lower() == "host":
                    raise Unusual(item[0])
                try:
                    line = _line(*item)
                except ValueError as exc:  # the same error urllib3 raises, from its path
                    raise Unusual(item[0]) from exc
                if len(lines) > 4096:
                    lines.clear()
                lines[item] = line
            parts.append(line)
        parts.append(b"\r\n")
        return b"".join(parts)

    def _take(self, timeout: urllib3.Timeout) -> _Conn:
        """An idle connection still open, else a new one (connected by urllib3)."""
        while True:
            try:
                conn = self._idle.pop()
            except IndexError:
                break
            if not conn.dropped():
                return conn
            conn.close()
        made = self.pool._new_conn()
        made.timeout = timeout.connect_timeout
        try:
            made.connect()
        except OSError as exc:  # as urllib3's pool: a handshake timeout, a TLS error, the rest
            made.close()
            raise _connect_error(self.pool, exc) from exc
        return _Conn(made.sock)

    def _exchange(
        self, conn: _Conn, payload: bytes, method: str, target: str, timeout: urllib3.Timeout
    ) -> Answer:
        read_timeout = timeout.read_timeout
        if conn.timeout != read_timeout:
            conn.sock.settimeout(read_timeout)
            conn.timeout = read_timeout
        try:
            answer, keep = self._send_and_read(conn, payload, method)
        except TimeoutError as exc:
            conn.close()
            message = f"Read timed out. (read timeout={read_timeout})"
            raise urllib3.exceptions.ReadTimeoutError(self.pool, target, message) from exc
        except OSError as exc:
            conn.close()
            raise urllib3.exceptions.ProtocolError(f"Connection broken: {exc!r}", exc) from exc
        except BaseException:
            conn.close()
            raise
        if keep and len(self._idle) < self.maxsize:
            self._idle.append(conn)
        else:
            conn.close()
        return answer

    def _send_and_read(self, conn: _Conn, payload: bytes, method: str) -> tuple[Answer, bool]:
        try:
            conn.sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # as urllib3: the server may have answered before closing; read what it said
        except OSError as exc:  # a send timeout too: urllib3 calls it an aborted connection
            raise _aborted(exc) from exc
        try:
            line = conn.reader.readline(_MAX_LINE + 1)
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise _aborted(exc) from exc
        if not line:
            raise _aborted(ConnectionError("Remote end closed connection without response"))
        return _read_answer(conn.reader, line, method)


def _connect_error(pool: urllib3.HTTPConnectionPool, exc: OSError) -> Exception:
    if isinstance(exc, TimeoutError) or (isinstance(exc, ssl.SSLError) and "timed out" in str(exc)):
        return urllib3.exceptions.ReadTimeoutError(pool, "/", f"Read timed out. ({exc})")
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return urllib3.exceptions.SSLError(exc)
    return _aborted(exc)


def _aborted(exc: Exception) -> urllib3.exceptions.ProtocolError:
    return urllib3.exceptions.ProtocolError("Connection aborted.", exc)


def _line(name: str, value: str) -> bytes:
    """One header line as http.client writes it (ASCII name, Latin-1 value), checked as it does."""
    raw_name, raw_value = name.encode("ascii"), value.encode("latin-1")
    if not _LEGAL_NAME(raw_name):
        raise ValueError(f"Invalid header name {raw_name!r}")
    if _ILLEGAL_VALUE(raw_value):
        raise ValueError(f"Invalid header value {raw_value!r}")
    return b"%s: %s\r\n" % (raw_name, raw_value)


def _read_answer(reader: io.BufferedReader, line: bytes, method: str) -> tuple[Answer, bool]:
    """The answer whose status line is `line` (a 100 Continue skipped, as http.client does), its
    headers and body; and whether the connection may carry another request. Another 1xx (an
    upgrade, early hints) is the answer, without a body, as through urllib3, and the connection
    is closed after it."""
    version, status, reason = _status(line)
    while status == 100:
        _headers(reader)
        version, status, reason = _status(reader.readline(_MAX_LINE + 1))
    headers = _headers(reader)
    keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if status < 200:
        return Answer(status, reason, headers, b""), False
    if method == "HEAD" or status in _NO_BODY:
        data = b""
    elif "transfer-encoding" in headers:
        if headers["transfer-encoding"].strip().lower() != "chunked":
            raise _protocol(f"unsupported Transfer-Encoding {headers['transfer-encoding']!r}")
        data = _chunked(reader)
    elif "content-length" in headers:
        data = _exactly(reader, _length(headers["content-length"]))
    else:
        data, keep = reader.read(), False
    encoding = headers.get("content-encoding")
    if encoding and encoding.strip().lower() != "identity":
        data = _decoded(data, headers, status)
    return Answer(status, reason, headers, data), keep


def _status(line: bytes) -> tuple[str, int, str]:
    if len(line) > _MAX_LINE:
        raise _protocol("status line too long")
    if not line:
        raise _protocol("Remote end closed connection without response")
    parts = line.decode("iso-8859-1").split(None, 2)
    try:
        version, code = parts[0], int(parts[1])
    except (IndexError, ValueError) as exc:
        raise _protocol(f"bad status line {line[:100]!r}") from exc
    if not version.startswith("HTTP/") or not 100 <= code <= 999:
        raise _protocol(f"bad status line {line[:100]!r}")
    return version, code, parts[2].strip() if len(parts) > 2 else ""


def _headers(reader: io.BufferedReader) -> Headers:
    headers = Headers()
    last: tuple[str, str] | None = None
    for _ in range(_MAX_HEADERS + 1):
        line = reader.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise _protocol("header line too long")
        if line in (b"\r\n", b"\n", b""):
            if last:
                headers.add(*last)
            return headers
        text = line.decode("iso-8859-1")
        if text[0] in " \t" and last:  # an obsolete folded continuation
            last = (last[0], f"{last[1]} {text.strip()}")
            continue
        if last:
            headers.add(*last)
        name, colon, value = text.partition(":")
        last = (name.strip(), value.strip()) if colon else None
    raise _protocol(f"got more than {_MAX_HEADERS} headers")


def _length(value: str) -> int:
    try:
        length = int(value.strip())
    except ValueError as exc:
        raise _protocol(f"invalid Content-Length {value!r}") from exc
    if length < 0:
        raise _protocol(f"invalid Content-Length {value!r}")
    return length


def _exactly(reader: io.BufferedReader, length: int) -> bytes:
    data = reader.read(length)
    if len(data) != length:
        raise _protocol(
            f"IncompleteRead({len(data)} bytes read, {length - len(data)} more expected)"
        )
    return data


def _chunked(reader: io.BufferedReader) -> bytes:
    chunks = []
    while True:
        line = reader.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE or not line:
            raise _protocol("bad chunk size line")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise _protocol(f"bad chunk size {line[:100]!r}") from exc
        if size == 0:
            break
        chunks.append(_exactly(reader, size))
        _exactly(reader, 2)
    _headers(reader)  # trailers, dropped as urllib3 drops them
    return b"".join(chunks)


def _decoded(data: bytes, headers: Headers, status: int) -> bytes:
    """The body decoded by urllib3 itself (gzip, deflate and whatever else it advertises)."""
    response = urllib3.HTTPResponse(
        body=io.BytesIO(data),
        headers=dict(headers),
        status=status,
        preload_content=True,
        decode_content=True,
        enforce_content_length=False,
    )
    return response.data


def _protocol(message: str) -> urllib3.exceptions.ProtocolError:
    return urllib3.exceptions.ProtocolError(message)
