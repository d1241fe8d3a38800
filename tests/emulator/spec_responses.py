"""An independent, test-side check that API answers are valid against Looker's OpenAPI spec.

Written from the spec's rules, not from the emulator's code: an answer's schema is its operation's
`200` response; every field must be a property of that schema, of the declared type, `null` only where
the property is `nullable` (or a bare `$ref`, see `check_value`), within its `enum`, recursively through `$ref` objects and arrays.
`SpecCheckingProxy` puts the check between a client and a server, so a whole restore can be checked.
"""

from __future__ import annotations

import http.client
import json
import re
import sys
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# The spec's loading, routes and $ref resolution are the request checker's (tests/engine).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from spec_check import TYPES, _resolve, routes  # noqa: E402


def operation(method: str, path: str) -> dict[str, Any] | None:
    path = re.sub("/{2,}", "/", path)
    return next((op for m, rx, op in routes() if m == method and rx.match(path)), None)


def check_value(schema: dict[str, Any], value: Any, where: str, errors: list[str]) -> None:
    # OpenAPI 3.0 cannot mark a bare `$ref` nullable; Looker answers null for a nested object that
    # is not there (a user's `credentials_ldap`), so such a property may be null.
    nullable = "$ref" in schema or schema.get("nullable", False)
    schema = _resolve(schema)
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    if value is None:
        if not nullable:
            errors.append(f"{where}: null for non-nullable {kind}")
        return
    if kind in TYPES:
        bad_bool = kind in ("integer", "number") and isinstance(value, bool)
        if not isinstance(value, TYPES[kind]) or bad_bool:
            errors.append(f"{where}: expected {kind}, got {type(value).__name__}")
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not one of {schema['enum']}")
    if kind == "array":
        for item in value:
            check_value(schema.get("items") or {}, item, f"{where}[]", errors)
    elif kind == "object" and "properties" in schema:
        for name, item in value.items():
            prop = schema["properties"].get(name)
            if prop is None:
                errors.append(f"{where}.{name}: not a field")
            else:
                check_value(prop, item, f"{where}.{name}", errors)


def check_response(method: str, path: str, status: int, body: Any) -> list[str]:
    """Problems of one answer (only 200 answers are checked: errors have their own shape)."""
    op = operation(method, path)
    if op is None or status != 200:
        return []
    content = ((op.get("responses") or {}).get("200") or {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    if schema is None:
        return []
    errors: list[str] = []
    check_value(schema, body, op["operationId"], errors)
    return errors


class SpecCheckingProxy:
    """A loopback HTTP proxy in front of `target` that checks every JSON answer against the spec.

    `problems` counts each distinct problem (`operation.field: what`) once per answer."""

    def __init__(self, target: str) -> None:
        self.target = urllib.parse.urlsplit(target)
        self.problems: Counter[str] = Counter()
        self.answers = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SpecCheckingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def record(self, method: str, path: str, status: int, payload: bytes) -> None:
        try:
            body = json.loads(payload) if payload else None
        except ValueError:
            return
        found = set(check_response(method, path, status, body))
        with self._lock:
            self.answers += 1
            self.problems.update(found)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(
                    proxy.target.hostname, proxy.target.port, timeout=120
                )
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                conn.request(self.command, self.path, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                conn.close()
                proxy.record(self.command, self.path.split("?")[0], resp.status, payload)
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        return Handler
