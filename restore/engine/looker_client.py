"""The Looker seam: the only module that imports `looker_sdk`.

looker-sdk 26.22 loses the status code and headers of failures (`SDKError`), turns timeouts and
connection errors into the same `SDKError`, logs in without a lock, keeps a pool of 10 connections and
fetches error docs from the internet on errors. So each Destination gets its own SDK built from an
explicit settings object (never `os.environ`), with our own transport that raises `LookerApiError`
(status, headers, body, method, path, kind) before the SDK's error path (and its `ErrorDocHelper`) runs,
a login guarded by a lock, one transparent re-login on 401, and a `RequestGate` around every request.

Callers get plain JSON (dicts/lists): `client.get("/dashboards/1")`, `client.patch(path, body)`.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import requests
from looker_sdk.rtl import auth_session, auth_token, requests_transport, serialize, transport
from looker_sdk.sdk import constants
from looker_sdk.sdk.api40 import methods as methods40
from requests.adapters import HTTPAdapter

from restore.engine.errors import LookerApiError

if TYPE_CHECKING:
    from restore.models import Destination

API_VERSION = "4.0"


class RequestGate(Protocol):
    """The execution layer's shared rate limiter sees every request through this hook."""

    def acquire(self) -> None: ...

    def record(self, status: int | None, retry_after: float | None) -> None: ...


class NoGate:
    """Default gate: no limit."""

    def acquire(self) -> None:
        return None

    def record(self, status: int | None, retry_after: float | None) -> None:
        return None


# Observers see (method, url, body) of every request; tests use one to validate bodies against the spec.
RequestObserver = Callable[[str, str, Any], None]


@dataclass
class LookerSettings:
    """Explicit SDK settings for one destination (implements looker_sdk's PApiSettings protocol)."""

    base_url: str
    client_id: str
    client_secret: str
    verify_ssl: bool = True
    timeout: int = 120
    agent_tag: str = f"{transport.AGENT_PREFIX} lookervault-web"
    headers: MutableMapping[str, str] | None = None

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        if self.headers is None:
            self.headers = {"Content-Type": "application/json"}

    def is_configured(self) -> None:
        if not self.base_url:
            raise LookerApiError("destination has no base URL", kind="config")

    def read_config(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}

    def __repr__(self) -> str:  # never print the secret
        return f"LookerSettings(base_url={self.base_url!r}, client_id={self.client_id!r})"

    @classmethod
    def for_destination(cls, destination: Destination) -> LookerSettings:
        return cls(
            base_url=destination.base_url,
            client_id=destination.client_id,
            client_secret=destination.get_client_secret(),
            verify_ssl=destination.verify_ssl,
            timeout=int(destination.timeout or 120),
        )


class LockedAuthSession(auth_session.AuthSession):
    """looker_sdk's AuthSession with login under a lock: N threads on a fresh client log in once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()

    def authenticate(self, transport_options: transport.TransportOptions) -> dict[str, str]:
        if not self.is_authenticated:
            with self._lock:
                if not self.is_authenticated:
                    self._login(transport_options)
        return {"Authorization": f"Bearer {self.token.access_token}"}

    def forget_token(self, stale: str) -> None:
        """Drop the token the server rejected (once, even if many threads saw the 401)."""
        with self._lock:
            if self.token.access_token == stale:
                self.token = auth_token.AuthToken()


class GatedTransport(requests_transport.RequestsTransport):
    """RequestsTransport that keeps status/headers/body of failures and raises LookerApiError."""

    def __init__(self, settings: LookerSettings, session: requests.Session) -> None:
        super().__init__(settings, session)
        self.gate: RequestGate = NoGate()
        self.observers: list[RequestObserver] = []
        self.auth: LockedAuthSession | None = None

    def request(
        self,
        method: transport.HttpMethod,
        path: str,
        query_params: MutableMapping[str, str] | None = None,
        body: bytes | None = None,
        authenticator: transport.TAuthenticator = None,
        transport_options: transport.TransportOptions | None = None,
    ) -> transport.Response:
        resp, headers = self._send(
            method, path, query_params, body, authenticator, transport_options
        )
        if resp.status_code == 401 and authenticator is not None and self.auth is not None:
            # An expired or revoked token: log in again once, transparently.
            self.auth.forget_token(headers.get("Authorization", "").removeprefix("Bearer "))
            resp, _ = self._send(method, path, query_params, body, authenticator, transport_options)
        if not resp.ok:
            raise _http_error(method.name, path, resp, body)
        return _sdk_response(resp)

    def _send(
        self,
        method: transport.HttpMethod,
        path: str,
        query_params: MutableMapping[str, str] | None,
        body: bytes | None,
        authenticator: transport.TAuthenticator,
        options: transport.TransportOptions | None,
    ) -> tuple[requests.Response, dict[str, str]]:
        headers: dict[str, str] = {}
        if authenticator:
            headers.update(authenticator(options or {}))
        if options and options.get("headers"):
            headers.update(options["headers"])
        timeout = (options or {}).get("timeout") or self.settings.timeout
        for observe in self.observers:
            observe(method.name, path, _decode_body(body, headers))
        self.gate.acquire()
        try:
            resp = self.session.request(
                method.name,
                path,
                auth=requests_transport.NullAuth(),
                params=query_params,
                data=body,
                headers=headers,
                timeout=timeout,
            )
        except requests.Timeout as exc:
            self.gate.record(None, None)
            raise _io_error("timeout", method.name, path, exc, body) from exc
        except (requests.ConnectionError, OSError) as exc:
            self.gate.record(None, None)
            raise _io_error("connection", method.name, path, exc, body) from exc
        error = None if resp.ok else _http_error(method.name, path, resp, body)
        self.gate.record(resp.status_code, error.retry_after if error else None)
        return resp, headers


def _read_environment_once(session: requests.Session, base_url: str) -> None:
    """Proxies and CA bundle from the environment, read here once: with `trust_env` requests reads
    them again on every request, which was 14% of the restore process's CPU time."""
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if session.verify is True and bundle:
        session.verify = bundle


def _decode_body(body: bytes | None, headers: dict[str, str]) -> Any:
    if body is None:
        return None
    if "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        return "<form>"  # the login form carries the secret: never handed to observers
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def _sdk_response(resp: requests.Response) -> transport.Response:
    out = transport.Response(
        True, resp.content, transport.response_mode(resp.headers.get("content-type"))
    )
    encoding = requests.utils.get_encoding_from_headers(resp.headers)
    if encoding:
        out.encoding = encoding
    return out


def _api_path(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def _payload(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None  # a login form: never keep credentials in an error


def _http_error(
    method: str, url: str, resp: requests.Response, body: bytes | None
) -> LookerApiError:
    text = resp.text[:20_000]
    try:
        message = json.loads(text).get("message") or resp.reason
    except (ValueError, AttributeError):
        message = resp.reason or "HTTP error"
    return LookerApiError(
        f"Looker API {resp.status_code}: {message}",
        status=resp.status_code,
        headers=dict(resp.headers),
        body=text,
        method=method,
        path=_api_path(url),
        request_payload=_payload(body),
    )


def _io_error(
    kind: str, method: str, url: str, exc: Exception, body: bytes | None
) -> LookerApiError:
    what = "timed out" if kind == "timeout" else "could not connect"
    return LookerApiError(
        f"Looker API {what}: {exc.__class__.__name__}",
        kind=kind,
        body=str(exc)[:2000],
        method=method,
        path=_api_path(url),
        request_payload=_payload(body),
    )


FANOUT_SLOTS = 8  # restore.engine.fanout.MAX_PARALLEL (not imported: fanout imports the engine)


class LookerClient:
    """JSON over looker-sdk for one destination. Thread-safe; share one per session."""

    def __init__(self, settings: LookerSettings, *, workers: int = 8) -> None:
        self.settings = settings
        session = requests.Session()
        # Each worker, plus the dashboard fan-out (fanout.MAX_PARALLEL, shared by the session),
        # plus slack: beyond the pool urllib3 would open and drop connections instead of reusing.
        adapter = HTTPAdapter(
            pool_connections=max(workers, 1),
            pool_maxsize=max(workers, 1) + min(workers, FANOUT_SLOTS) + 2,
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self.transport = GatedTransport(settings, session)
        _read_environment_once(session, settings.base_url)
        self.auth = LockedAuthSession(
            settings, self.transport, serialize.deserialize40, API_VERSION
        )
        self.transport.auth = self.auth
        self.sdk = methods40.Looker40SDK(
            self.auth, serialize.deserialize40, serialize.serialize40, self.transport, API_VERSION
        )
        self._version: dict[str, Any] | None = None

    @classmethod
    def for_destination(cls, destination: Destination, *, workers: int = 8) -> LookerClient:
        return cls(LookerSettings.for_destination(destination), workers=workers)

    # -- hooks --------------------------------------------------------------------------------------
    def set_gate(self, gate: RequestGate) -> None:
        self.transport.gate = gate

    def add_observer(self, observer: RequestObserver) -> None:
        self.transport.observers.append(observer)

    def login(self) -> None:
        """Authenticate once, before fanning out to workers."""
        self.auth.authenticate({})

    # -- JSON verbs ---------------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return _json(self.sdk.get(path, structure=str, query_params=_params(params)))

    def post(self, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        return _json(self.sdk.post(path, structure=str, body=body, query_params=_params(params)))

    def patch(self, path: str, body: Any) -> Any:
        return _json(self.sdk.patch(path, structure=str, body=body))

    def put(self, path: str, body: Any) -> Any:
        return _json(self.sdk.put(path, structure=str, body=body))

    def delete(self, path: str) -> None:
        self.sdk.delete(path, structure=str)

    def get_or_none(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET that answers None on 404 (the object does not exist in the destination)."""
        try:
            return self.get(path, params)
        except LookerApiError as exc:
            if exc.status == 404:
                return None
            raise

    def versions(self) -> dict[str, Any]:
        """GET /versions, cached per client."""
        if self._version is None:
            self._version = self.get("/versions") or {}
        return self._version

    @staticmethod
    def quote(value: Any) -> str:
        """A path parameter (IDs, LookML model names) encoded the way the SDK does."""
        return urllib.parse.quote(str(value), safe="")


def _params(params: dict[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}


def _json(text: Any) -> Any:
    if text in (None, ""):
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text)


def check_connection(destination: Destination) -> str:
    """Log in and read the Looker release; raise LookerApiError with a message a person can act on."""
    client = LookerClient.for_destination(destination, workers=1)
    try:
        client.login()
    except LookerApiError as exc:
        if exc.status in (401, 403, 404):
            raise LookerApiError(
                f"login refused: wrong client ID or secret for {destination.base_url}",
                status=exc.status,
                method=exc.method,
                path=exc.path,
            ) from exc
        if exc.status is None:
            raise LookerApiError(
                f"cannot reach {destination.base_url} ({exc.kind}): {exc.body[:200]}",
                kind=exc.kind,
                method=exc.method,
                path=exc.path,
            ) from exc
        raise
    version = client.versions()
    return str(version.get("looker_release_version") or "unknown")


def sdk_version() -> str:
    return constants.sdk_version
