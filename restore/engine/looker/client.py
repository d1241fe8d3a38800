"""The Looker seam: the only module that imports `looker_sdk`.

looker-sdk 26.22 loses the status code and headers of failures (`SDKError`), turns timeouts and
connection errors into the same `SDKError`, logs in without a lock, keeps a pool of 10 connections and
fetches error docs from the internet on errors. So each Destination gets its own SDK built from an
explicit settings object (never `os.environ`), with our own transport that raises `LookerApiError`
(status, headers, body, method, path, kind) before the SDK's error path (and its `ErrorDocHelper`) runs,
a login guarded by a lock, one transparent re-login on 401, and a `RequestGate` around every request.

The transport talks to urllib3 directly instead of through a `requests.Session`: requests' own
per-request work (preparing the request, merging settings, hooks, cookies, building the Response) was
about a fifth of a restore's CPU time. It sends the same headers, query string and body, follows
redirects, and reads proxies from the environment once per client (the CA bundle is a setting). Unlike a
requests.Session it keeps no cookies (the Looker API authenticates with the bearer token alone).
Requests to the destination's own origin without a proxy go over a leaner exchange still
(`http11`): the same bytes without urllib3's and http.client's per-request work, over
connections urllib3 opened.

Callers get plain JSON (dicts/lists): `client.get("/dashboards/1")`, `client.patch(path, body)`.
The JSON verbs hand the transport what looker-sdk's APIMethods would (same URL, query, body bytes,
AuthSession authenticator) without its per-request work, and URLs of the destination's own origin
go to its connection pool without the PoolManager's parsing.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import requests.utils
import urllib3
import urllib3.util.ssl_
from django.conf import settings as django_settings
from looker_sdk.rtl import auth_session, auth_token, serialize, transport
from looker_sdk.sdk import constants
from looker_sdk.sdk.api40 import methods as methods40

from restore.engine.core.errors import LookerApiError, RestoreError, none_if_missing
from restore.engine.limits.cpu_load import cpu_load
from restore.engine.limits.db_budget import release_idle
from restore.engine.looker import http11

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
                    try:
                        self._login(transport_options)
                    except LookerApiError as exc:
                        raise login_refused(exc, self.settings.base_url) from exc
        return {"Authorization": f"Bearer {self.token.access_token}"}

    def forget_token(self, stale: str) -> None:
        """Drop the token the server rejected (once, even if many threads saw the 401)."""
        with self._lock:
            if self.token.access_token == stale:
                self.token = auth_token.AuthToken()


def login_refused(exc: LookerApiError, base_url: str) -> LookerApiError:
    """Looker answers wrong credentials with 404 (or 401/403): say so in words, wherever a login
    fails (a connection test, a restore, a rollback, a DLQ retry)."""
    if exc.status not in (401, 403, 404):
        return exc
    return LookerApiError(
        f"login refused: wrong client ID or secret for {base_url}",
        status=exc.status,
        body=exc.body,
        method=exc.method,
        path=exc.path,
    )


class GatedTransport(transport.Transport):
    """looker_sdk Transport over urllib3: keeps status/headers/body of failures, raises LookerApiError.

    It sends what looker_sdk's RequestsTransport sent through a `requests.Session` (the session's default
    headers, `x-looker-appid`, the settings' headers, Content-Length, the query string encoded the same
    way, redirects followed) without requests' per-request machinery. One instance is shared by every
    worker thread: it holds no per-request state, urllib3's PoolManager is thread-safe and the
    lean exchange hands a connection to one thread at a time.
    """

    def __init__(
        self, settings: LookerSettings, *, num_pools: int = 1, pool_maxsize: int = 10
    ) -> None:
        self.settings = settings
        self.pool_maxsize = pool_maxsize
        self.pool, self.proxy = _pool_manager(settings, num_pools, pool_maxsize)
        self._origin, self._host_pool = _host_pool(self.pool, self.proxy, settings.base_url)
        self._lean = _lean_exchange(self._host_pool, settings, pool_maxsize)
        headers = dict(requests.utils.default_headers())
        headers[transport.LOOKER_API_ID] = settings.agent_tag
        headers.update(settings.headers or {})
        self.headers: dict[str, str] = headers
        self._header_keys = {k.lower(): k for k in headers}
        self._timeouts: dict[float, urllib3.Timeout] = {}
        self.gate: RequestGate = NoGate()
        self.observers: list[RequestObserver] = []
        self.auth: LockedAuthSession | None = None
        # A read-only client (a drift check) sends GETs and its own login/logout, nothing else,
        # whatever path the request took (`LookerClient.post`, `.sdk.create_…`, this transport).
        self.read_only = False

    @classmethod
    def configure(cls, settings: transport.PTransportSettings) -> transport.Transport:
        return cls(settings)  # type: ignore[arg-type]

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
        if resp.status == 401 and authenticator is not None and self.auth is not None:
            # An expired or revoked token: log in again once, transparently.
            self.auth.forget_token(headers.get("Authorization", "").removeprefix("Bearer "))
            resp, _ = self._send(method, path, query_params, body, authenticator, transport_options)
        if resp.status >= 400:  # requests' `Response.ok`
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
    ) -> tuple[urllib3.BaseHTTPResponse, dict[str, str]]:
        name = method.name
        if self.read_only and name not in ("GET", "HEAD"):
            _refuse_write(name, path)
        extra: dict[str, str] = {}
        if authenticator:
            extra.update(authenticator(options or {}))
        if options and options.get("headers"):
            extra.update(options["headers"])
        headers = self._merge_headers(extra)
        if body:
            headers["Content-Length"] = str(len(body))
        else:
            body = None
            if name not in ("GET", "HEAD"):
                headers["Content-Length"] = "0"
        url = _with_query(path, query_params) if query_params else path
        timeout = self._timeout((options or {}).get("timeout") or self.settings.timeout)
        for observe in self.observers:
            observe(name, path, _decode_body(body, headers))
        self.gate.acquire()
        release_idle()  # no database connection held while waiting on Looker (PostgreSQL pool)
        sent = time.perf_counter()
        try:
            resp = self._open(name, url, body, headers, timeout)
        except OffOriginRedirect as exc:
            self.gate.record(None, None)
            raise LookerApiError(
                str(exc), status=exc.status, method=name, path=_api_path(url), body=exc.target
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            self.gate.record(None, None)
            cause = _cause(exc)
            raise _io_error(_io_kind(cause), name, path, cause, body) from exc
        cpu_load.note_answer(time.perf_counter() - sent)
        error = None if resp.status < 400 else _http_error(name, path, resp, body)
        self.gate.record(resp.status, error.retry_after if error else None)
        return resp, headers

    def _open(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: urllib3.Timeout,
    ) -> urllib3.BaseHTTPResponse:
        """Send, following redirects only within the destination's own scheme, host and port.

        A redirect elsewhere is refused, never followed: urllib3 (as requests) would send the body
        again, and the body of a login is the client ID and secret."""
        for _ in range(_MAX_REDIRECTS + 1):
            resp = self._urlopen(method, url, body, headers, timeout)
            location = resp.get_redirect_location()
            if not location:
                return resp
            target = urllib.parse.urljoin(url, location)
            if _origin(target) != _origin(url):
                raise OffOriginRedirect(resp.status, target)
            if resp.status == 303:  # RFC 9110: the answer is fetched with GET
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            url = target
        raise urllib3.exceptions.MaxRetryError(None, url, "too many redirects")  # type: ignore[arg-type]

    def _urlopen(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: urllib3.Timeout,
    ) -> urllib3.BaseHTTPResponse:
        """One request, no redirect followed. A URL of the destination's own origin whose
        request target urllib3 would send as it is goes over the lean exchange (`http11`: the
        same bytes without urllib3's and http.client's per-request work), or, where there is none,
        straight to that host's connection pool (the PoolManager would parse the URL again to
        find the same pool); any other through the PoolManager (and its proxy)."""
        pool: Any = self.pool
        if self._host_pool is not None and url.startswith(self._origin):
            target = url[len(self._origin) :]
            if _AS_IS.fullmatch(target) and "/." not in target.split("?", 1)[0]:
                if self._lean is not None:
                    with contextlib.suppress(http11.Unusual):  # nothing sent: urllib3 sends it
                        return self._lean.request(method, target, body, headers, timeout)  # type: ignore[return-value]
                pool, url = self._host_pool, target
        return pool.urlopen(
            method,
            url,
            body=body,
            headers=headers,
            timeout=timeout,
            retries=_RETRIES,
            redirect=False,
            assert_same_host=False,
            preload_content=True,
            decode_content=True,
        )

    def _merge_headers(self, extra: dict[str, str]) -> dict[str, str]:
        """The default headers overridden by the request's, case-insensitively (as requests merges)."""
        headers = self.headers.copy()
        for key, value in extra.items():
            default_key = self._header_keys.get(key.lower())
            if default_key is not None and default_key != key:
                headers.pop(default_key, None)
            if value is None:
                headers.pop(key, None)
            else:
                headers[key] = value
        return headers

    def _timeout(self, seconds: float) -> urllib3.Timeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = self._timeouts[seconds] = urllib3.Timeout(connect=seconds, read=seconds)
        return timeout


class WriteRefused(RestoreError):
    """A write asked of a read-only client: never sent, never retried."""


# What a read-only client still sends that is not a GET: its own session's login and logout.
_SESSION_REQUESTS = (
    ("POST", f"/api/{API_VERSION}/login"),
    ("DELETE", f"/api/{API_VERSION}/logout"),
)


def _refuse_write(method: str, url: str) -> None:
    """Raise unless the request is the client's own login or logout (`POST /login/{user_id}`, a
    login as another user, is refused too)."""
    path = _api_path(url)
    if any(method == m and path.endswith(p) for m, p in _SESSION_REQUESTS):
        return
    raise WriteRefused(f"a read-only Looker client writes nothing: {method} {path} refused")


# urllib3 must never retry on its own: the execution layer retries, through the gate. Redirects are
# followed by `GatedTransport._open` (up to 30, as requests did, within the destination's origin
# only); Retry-After is left to the caller.
_MAX_REDIRECTS = 30
_RETRIES = urllib3.Retry(
    total=None,
    connect=False,
    read=False,
    other=0,
    status=0,
    redirect=30,
    raise_on_redirect=True,
    raise_on_status=False,
    respect_retry_after_header=False,
)


def _pool_manager(
    settings: LookerSettings, num_pools: int, maxsize: int
) -> tuple[urllib3.PoolManager, str | None]:
    """The connection pool, with proxies read from the environment here, once (requests with
    `trust_env` read them again on every request: 14% of the restore's CPU time), and the CA
    bundle of the settings (LOOKERVAULT_CA_BUNDLE, from REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE).

    `block=False` like requests: beyond `maxsize` connections are opened and discarded, never waited for.
    """
    base_url = settings.base_url
    if urllib.parse.urlsplit(base_url).scheme.lower() not in ("http", "https"):
        # requests refused such URLs on every request (MissingSchema); urllib3 would assume http://.
        unusable = _Unusable(f"base URL {base_url!r} needs http:// or https://")
        return unusable, None  # type: ignore[return-value]
    kwargs: dict[str, Any] = {"num_pools": num_pools, "maxsize": maxsize, "block": False}
    if not settings.verify_ssl:
        kwargs["cert_reqs"] = "CERT_NONE"
    else:
        kwargs["cert_reqs"] = "CERT_REQUIRED"
        bundle = django_settings.LOOKERVAULT_CA_BUNDLE or requests.utils.DEFAULT_CA_BUNDLE_PATH
        if base_url.lower().startswith("https:"):
            # One context for the client: urllib3 would otherwise load the bundle on every connection.
            context = urllib3.util.ssl_.create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
            if os.path.isdir(bundle):
                context.load_verify_locations(capath=bundle)
            else:
                context.load_verify_locations(cafile=bundle)
            kwargs["ssl_context"] = context
        elif os.path.isdir(bundle):
            kwargs["ca_cert_dir"] = bundle
        else:
            kwargs["ca_certs"] = bundle
    proxy = requests.utils.select_proxy(base_url, requests.utils.get_environ_proxies(base_url))
    if not proxy:
        return urllib3.PoolManager(**kwargs), None
    proxy = requests.utils.prepend_scheme_if_needed(proxy, "http")
    username, password = requests.utils.get_auth_from_url(proxy)
    if proxy.lower().startswith("socks"):
        try:
            from urllib3.contrib.socks import SOCKSProxyManager
        except ImportError:  # PySocks is not installed: every request fails, as with requests
            unusable = _Unusable(f"SOCKS proxy {proxy} needs the PySocks package")
            return unusable, proxy  # type: ignore[return-value]
        manager = SOCKSProxyManager(proxy, username=username, password=password, **kwargs)
        return manager, proxy
    proxy_headers = (
        urllib3.make_headers(proxy_basic_auth=f"{username}:{password}") if username else None
    )
    return urllib3.ProxyManager(proxy, proxy_headers=proxy_headers, **kwargs), proxy


# A request target urllib3's `parse_url` leaves exactly as it is (path and query characters it
# does not percent-encode, percent-escapes already upper-case, and no `.`/`..` segment in the
# path, checked apart): sent unchanged on the direct path.
_AS_IS = re.compile(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-F]{2})*")


def _host_pool(
    manager: Any, proxy: str | None, base_url: str
) -> tuple[str, urllib3.HTTPConnectionPool | None]:
    """The destination's own connection pool (the one the PoolManager hands out for it) and the
    origin (`scheme://host[:port]`) whose URLs may go to it directly; None through a proxy, with
    credentials in the URL, or when no request can be sent."""
    parts = urllib.parse.urlsplit(base_url)
    if proxy or not isinstance(manager, urllib3.PoolManager) or "@" in parts.netloc:
        return "", None
    origin = f"{parts.scheme}://{parts.netloc}"
    return origin, manager.connection_from_url(origin)


def _lean_exchange(
    pool: urllib3.HTTPConnectionPool | None, settings: LookerSettings, maxsize: int
) -> http11.Exchange | None:
    """The lean exchange with the destination's own pool: plain HTTP, or HTTPS verified with
    the client's TLS context (an unverified one stays with urllib3, which warns on every
    request); none for a host name that is not ASCII."""
    if pool is None or not pool.host.isascii():
        return None
    if pool.scheme == "https" and (
        not settings.verify_ssl or pool.conn_kw.get("ssl_context") is None
    ):
        return None
    return http11.Exchange(pool, maxsize)


class OffOriginRedirect(Exception):
    """The destination redirected a request to another scheme, host or port."""

    def __init__(self, status: int, target: str) -> None:
        super().__init__(
            f"Looker API {status}: redirected to another host "
            f"({urllib.parse.urlsplit(target).netloc}); not followed, "
            "so nothing (no client ID or secret, no content) was sent there"
        )
        self.status = status
        self.target = target


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return (
        scheme,
        (parts.hostname or "").lower(),
        parts.port or {"http": 80, "https": 443}.get(scheme),
    )


class _Unusable:
    """In place of a PoolManager when no request can be sent: each one fails as a connection error."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def urlopen(self, *args: Any, **kwargs: Any) -> urllib3.BaseHTTPResponse:
        raise OSError(self.reason)


def _with_query(url: str, query_params: MutableMapping[str, Any]) -> str:
    """`url` with the query string requests builds from `params=` (None values dropped)."""
    pairs = []
    for key, values in query_params.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        pairs.extend((key, value) for value in values if value is not None)
    if not pairs:
        return url
    query = urllib.parse.urlencode(pairs, doseq=True)
    if "?" not in url:
        return f"{url}?{query}"
    return f"{url}{query}" if url.endswith("?") else f"{url}&{query}"


def _cause(exc: Exception) -> Exception:
    """The underlying error of urllib3's MaxRetryError (raised for connect errors and redirects)."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return exc.reason
    return exc


def _io_kind(exc: Exception) -> str:
    """The LookerApiError kind of a transport failure, as requests told them apart: connect and read
    timeouts are "timeout"; NewConnectionError (a ConnectTimeoutError to urllib3) and the rest are
    "connection"."""
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "connection"
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return "timeout"
    return "connection"


def _decode_body(body: bytes | None, headers: dict[str, str]) -> Any:
    if body is None:
        return None
    if "x-www-form-urlencoded" in headers.get("Content-Type", ""):
        return "<form>"  # the login form carries the secret: never handed to observers
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


def _sdk_response(resp: urllib3.BaseHTTPResponse) -> transport.Response:
    mode, encoding = _content_info(resp.headers.get("content-type"))
    out = transport.Response(True, resp.data, mode)
    if encoding:
        out.encoding = encoding
    return out


@functools.lru_cache(maxsize=64)
def _content_info(content_type: str | None) -> tuple[transport.ResponseMode, str | None]:
    """The SDK's response mode and requests' encoding (charset, ISO-8859-1 for text/*) of a type."""
    encoding = requests.utils.get_encoding_from_headers({"content-type": content_type})
    return transport.response_mode(content_type), encoding


def _text(resp: urllib3.BaseHTTPResponse) -> str:
    """The body as text, like requests' `Response.text` (UTF-8 when the type names no charset)."""
    content = resp.data
    if not content:
        return ""
    encoding = _content_info(resp.headers.get("content-type"))[1] or "utf-8"
    try:
        return str(content, encoding, errors="replace")
    except LookupError:
        return str(content, "utf-8", errors="replace")


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
    method: str, url: str, resp: urllib3.BaseHTTPResponse, body: bytes | None
) -> LookerApiError:
    text = _text(resp)[:20_000]
    try:
        message = json.loads(text).get("message") or resp.reason
    except (ValueError, AttributeError):
        message = resp.reason or "HTTP error"
    return LookerApiError(
        f"Looker API {resp.status}: {message}",
        status=resp.status,
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


class LookerClient:
    """JSON over looker-sdk for one destination. Thread-safe; share one per session."""

    def __init__(self, settings: LookerSettings, *, in_flight: int = 8) -> None:
        self.settings = settings
        # Room for every request the session can have open (`RestoreConfig.max_in_flight`), plus
        # slack: beyond the pool urllib3 would open and drop connections instead of reusing them.
        self.transport = GatedTransport(settings, num_pools=4, pool_maxsize=max(in_flight, 1) + 2)
        self.auth = LockedAuthSession(
            settings, self.transport, serialize.deserialize40, API_VERSION
        )
        self.transport.auth = self.auth
        self.sdk = methods40.Looker40SDK(
            self.auth, serialize.deserialize40, serialize.serialize40, self.transport, API_VERSION
        )
        self._api_path = self.sdk.api_path
        self._version: dict[str, Any] | None = None

    @classmethod
    def for_destination(cls, destination: Destination, *, in_flight: int = 8) -> LookerClient:
        return cls(LookerSettings.for_destination(destination), in_flight=in_flight)

    # -- hooks --------------------------------------------------------------------------------------
    def set_gate(self, gate: RequestGate) -> None:
        self.transport.gate = gate

    def set_read_only(self) -> None:
        """From now on refuse every request but GETs and the login/logout (a drift check)."""
        self.transport.read_only = True

    def add_observer(self, observer: RequestObserver) -> None:
        self.transport.observers.append(observer)

    def login(self) -> None:
        """Authenticate once, before fanning out to workers."""
        self.auth.authenticate({})

    # -- JSON verbs ---------------------------------------------------------------------------------
    # Straight to the transport with what looker-sdk's APIMethods would hand it (the same URL,
    # query parameters, body bytes and authenticator): its per-request work (joining URLs,
    # cattrs over a body that is plain JSON already, decoding the answer to text for `_json` to
    # parse again) was a tenth of a restore's CPU. A body that is not plain JSON goes through
    # the SDK as before.
    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._call(transport.HttpMethod.GET, path, None, params)

    def post(self, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        if not _plain(body):
            return _json(
                self.sdk.post(
                    safe_path(path), structure=str, body=body, query_params=_params(params)
                )
            )
        return self._call(transport.HttpMethod.POST, path, body, params)

    def patch(self, path: str, body: Any) -> Any:
        if not _plain(body):
            return _json(self.sdk.patch(safe_path(path), structure=str, body=body))
        return self._call(transport.HttpMethod.PATCH, path, body)

    def put(self, path: str, body: Any) -> Any:
        if not _plain(body):
            return _json(self.sdk.put(safe_path(path), structure=str, body=body))
        return self._call(transport.HttpMethod.PUT, path, body)

    def delete(self, path: str) -> None:
        self._send(transport.HttpMethod.DELETE, path, None)  # the answer is not read

    def _call(
        self,
        method: transport.HttpMethod,
        path: str,
        body: dict[str, Any] | list[Any] | None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        return _answer(self._send(method, path, body, params))

    def _send(
        self,
        method: transport.HttpMethod,
        path: str,
        body: dict[str, Any] | list[Any] | None,
        params: dict[str, Any] | None = None,
    ) -> transport.Response:
        path = safe_path(path)
        # APIMethods joins `path` to `<base>/api/4.0/` with urljoin; for a path safe_path let
        # through that is plain concatenation unless its first segment could read as a scheme.
        url = self._api_path + path[1:] if ":" not in path else self.sdk._path(path)
        return self.transport.request(
            method,
            url,
            query_params=_params(params),
            body=_body(body) if body is not None else None,
            authenticator=self.auth.authenticate,
        )

    def get_or_none(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET that answers None on 404 (the object does not exist in the destination)."""
        return none_if_missing(lambda: self.get(path, params))

    def versions(self) -> dict[str, Any]:
        """GET /versions, cached per client."""
        if self._version is None:
            self._version = self.get("/versions") or {}
        return self._version

    @staticmethod
    def quote(value: Any) -> str:
        """A path parameter (IDs, LookML model names) encoded the way the SDK does."""
        return quote_id(value)


def quote_id(value: Any) -> str:
    """A path segment from an ID (of the backup, the ID map or an answer), percent-encoded: an ID
    such as `5/../../users/1` stays one segment and never reaches another resource."""
    return urllib.parse.quote(str(value), safe="")


# A query, a fragment, a backslash or a control character: never in a path the engine builds.
_UNSAFE_CHAR = re.compile(r"[?#\\\x00-\x1f\x7f]")


def safe_path(path: str) -> str:
    """The path, unless it could reach another resource than the one it names: a `.` or `..`
    segment, an empty one, or a query, fragment or control character in it (an ID that was not
    quoted). Refused before anything is sent."""
    segments = path.split("?", 1)[0].split("/")[1:]
    bad = any(s in ("", ".", "..") for s in segments) or _UNSAFE_CHAR.search(path) is not None
    if bad or not path.startswith("/"):
        raise RestoreError(f"refused to send a request to {path[:200]!r}: not a Looker API path")
    return path


def _params(params: dict[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}


def _plain(body: Any) -> bool:
    """A body the direct path sends: none, or JSON built of dicts and lists (what the engine
    sends); anything else (a looker-sdk model, form parameters, text) goes through the SDK."""
    return body is None or type(body) in (dict, list)


def _body(body: dict[str, Any] | list[Any]) -> bytes:
    """The bytes looker-sdk's serialize40 makes of a body (`json.dumps` of its cattrs
    unstructuring, which leaves plain JSON as it is); a value JSON has no type for (a date, an
    SDK model inside) is left to serialize40 itself."""
    try:
        return json.dumps(body, default=_not_json).encode("utf-8")
    except _NotJson:
        return serialize.serialize40(api_model=body)  # type: ignore[arg-type]


class _NotJson(TypeError):
    """A value in a body that only looker-sdk's serializer knows how to write."""


def _not_json(value: Any) -> Any:
    raise _NotJson(type(value).__name__)


def _answer(response: transport.Response) -> Any:
    """The JSON of an answer, as `_json` reads what APIMethods returns (the bytes of a binary
    type, else the text in the answer's charset): UTF-8 parsed by msgspec straight from the
    bytes; another charset, or what msgspec refuses (NaN, a lone surrogate, a huge exponent,
    nothing at all), the way it was."""
    data = response.value
    if response.response_mode == transport.ResponseMode.BINARY:
        encoding = "utf-8"
    elif not data:
        return None
    else:
        encoding = response.encoding
    if encoding.lower() in ("utf-8", "utf8"):
        try:
            return msgspec.json.decode(data)
        except msgspec.DecodeError:
            pass
    if response.response_mode == transport.ResponseMode.BINARY:
        return _json(data)
    return _json(data.decode(encoding=encoding))


def _json(text: Any) -> Any:
    if text in (None, ""):
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return json.loads(text)


def check_connection(destination: Destination) -> str:
    """Log in and read the Looker release; raise LookerApiError with a message a person can act on."""
    client = LookerClient.for_destination(destination, in_flight=1)
    try:
        client.login()  # wrong credentials already say so (login_refused)
    except LookerApiError as exc:
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


def check_destination(destination: Destination) -> bool:
    """Log in and read the Looker version; remember the outcome for the health display."""
    from django.utils import timezone

    try:
        destination.looker_version = check_connection(destination)
    except (RestoreError, OSError) as exc:
        destination.last_check_ok = False
        destination.last_check_message = str(exc)
    else:
        destination.last_check_ok = True
        destination.last_check_message = f"Connected: Looker {destination.looker_version}"
    destination.last_checked_at = timezone.now()
    destination.save(
        update_fields=["looker_version", "last_check_ok", "last_check_message", "last_checked_at"]
    )
    return bool(destination.last_check_ok)


def sdk_version() -> str:
    return constants.sdk_version
