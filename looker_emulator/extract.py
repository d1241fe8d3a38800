"""`python -m looker_emulator extract --from URL --out BACKUP.db`: a lookervault backup over the API.

Like `lookervault extract` (its default parallel extractor: plain IDs), through the real looker-sdk:
users, groups, permission sets, model sets, roles, folders, LookML models and their explores, looks
(with their query) and dashboards (with elements, filters and layouts nested: one GET each),
boards (with sections and items) and scheduled plans, paginated where the API paginates. The
backup is written to `OUT.partial` and renamed when complete, so a failed run leaves no half backup.

Trashed dashboards and looks (`deleted: true`, found with `search_*(deleted=true)`) are stored too,
with the row's `deleted_at` set (from the object's `deleted_at`, else the extraction time): in
lookervault a row with `deleted_at` is a deleted item, which its "active" indexes leave out and a
restore skips unless asked. The object keeps its own `deleted` flag.

The SDK is built with `looker_sdk.init40(config_settings=...)` from an explicit settings object
(never `LOOKERSDK_*` environment variables). Its transport is wrapped so a failed call raises
`ApiCallError` with the HTTP status and Looker's error body before the SDK's error path could run
`ErrorDocHelper` (an outbound HTTP call without a timeout). Objects are fetched as the JSON the API
returned (`get_json`), not through the SDK's typed models, which drop fields they do not know.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import looker_sdk
import requests
from looker_sdk.rtl import api_methods, api_settings, transport
from looker_sdk.sdk.api40 import methods as methods40

from looker_emulator.backup import BackupWriter, IdStyle
from looker_emulator.testing import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

PAGE_SIZE = 100
RETRIES = 6
MAX_WAIT_S = 10.0
TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


# -- the SDK ---------------------------------------------------------------------------------------
class ApiCallError(Exception):
    """A Looker API call failed: status (None for connection errors), method, path, body."""

    def __init__(
        self,
        method: str,
        path: str,
        status: int | None,
        body: str,
        retry_after: float | None = None,
    ) -> None:
        self.method, self.path, self.status, self.body = method, path, status, body
        self.retry_after = retry_after
        try:
            detail = json.loads(body).get("message") or body
        except (ValueError, AttributeError):
            detail = body
        where = f"{method} {path}"
        super().__init__(f"{where} -> {status if status is not None else 'no response'}: {detail}")


class ExplicitSettings(api_settings.ApiSettings):
    """ApiSettings from arguments only (no looker.ini, no environment)."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        timeout: int = 60,
        verify_ssl: bool = True,
    ):
        self._config = {
            "base_url": base_url.rstrip("/"),
            "client_id": client_id,
            "client_secret": client_secret,
            "verify_ssl": "true" if verify_ssl else "false",
            "timeout": str(timeout),
        }
        super().__init__(filename="", sdk_version=looker_sdk.__name__)

    def read_config(self) -> api_settings.SettingsConfig:
        return dict(self._config)  # type: ignore[return-value]


class RaisingTransport:
    """Delegates to the SDK's configured transport; turns a non-2xx answer into ApiCallError."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._last = threading.local()
        session: requests.Session = inner.session
        session.hooks["response"].append(self._remember)

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.status = response.status_code
        self._last.retry_after = response.headers.get("Retry-After")

    def request(
        self,
        method: transport.HttpMethod,
        path: str,
        query_params: Any = None,
        body: Any = None,
        authenticator: Any = None,
        transport_options: Any = None,
    ) -> transport.Response:
        self._last.status = self._last.retry_after = None
        response = self.inner.request(
            method, path, query_params, body, authenticator, transport_options
        )
        if not response.ok:
            text = response.value.decode(response.encoding or "utf-8", "replace")
            try:
                wait = float(self._last.retry_after) if self._last.retry_after else None
            except ValueError:
                wait = None
            raise ApiCallError(method.name, path, self._last.status, text, wait)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def make_sdk(
    base_url: str,
    client_id: str,
    client_secret: str,
    *,
    timeout: int = 60,
    pool_size: int = 16,
    verify_ssl: bool = True,
) -> methods40.Looker40SDK:
    sdk = looker_sdk.init40(
        config_settings=ExplicitSettings(base_url, client_id, client_secret, timeout, verify_ssl)
    )
    inner = sdk.transport
    adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
    inner.session.mount("http://", adapter)
    inner.session.mount("https://", adapter)
    wrapped = RaisingTransport(inner)
    sdk.transport = wrapped  # type: ignore[assignment]
    sdk.auth.transport = wrapped  # type: ignore[assignment]
    return sdk


def get_json(sdk: methods40.Looker40SDK, path: str, **query: Any) -> Any:
    """GET an API 4.0 path through the SDK (auth, transport) and return the decoded JSON.

    Reads are retried (RETRIES times, honouring Retry-After, backing off otherwise) on 429, 5xx and
    lost connections, as lookervault's extractor retries rate limits: a backup should survive a
    busy instance. Anything else fails at once.
    """
    params = {k: v for k, v in query.items() if v is not None}
    for attempt in range(RETRIES + 1):
        try:
            text = sdk.get(path, structure=str, query_params=params or None)
        except ApiCallError as exc:
            if attempt == RETRIES or not (exc.status is None or exc.status in TRANSIENT):
                raise
            time.sleep(min(exc.retry_after or 0.2 * 2**attempt, MAX_WAIT_S))
            continue
        return json.loads(text) if text else None
    raise AssertionError("unreachable")


def send_json(sdk: methods40.Looker40SDK, method: str, path: str, body: Any = None) -> Any:
    """PATCH/POST/DELETE an API path with a JSON body (a dict) through the SDK."""
    call = getattr(sdk, method.lower())
    if method.upper() == "DELETE":
        text = call(path, structure=str)
    else:
        text = call(path, structure=str, body=json.dumps(body) if body is not None else None)
    return json.loads(text) if text else None


def quote(value: str) -> str:
    return api_methods.APIMethods.encode_path_param(str(value))


# -- extraction -----------------------------------------------------------------------------------
def paginate(
    sdk: methods40.Looker40SDK, path: str, page_size: int = PAGE_SIZE, **query: Any
) -> Iterator[dict[str, Any]]:
    """Every object of a limit/offset list endpoint (stops on a short page; bounded by count)."""
    offset = 0
    for _ in range(10_000_000 // max(page_size, 1) + 1):
        page = get_json(sdk, path, limit=page_size, offset=offset, **query) or []
        yield from page
        if len(page) < page_size:
            return
        offset += page_size


def _trashed(sdk: methods40.Looker40SDK, path: str) -> Iterator[dict[str, Any]]:
    yield from paginate(sdk, path, deleted="true", fields="id,deleted")


def extract_objects(
    sdk: methods40.Looker40SDK, *, workers: int = 4
) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    """(content type, API object, deleted_at) for everything a backup holds, in lookervault's order."""
    for user in paginate(sdk, "/users"):
        yield "user", user, None
    for group in paginate(sdk, "/groups"):
        yield "group", group, None
    for obj in get_json(sdk, "/permission_sets") or []:
        yield "permission_set", obj, None
    for obj in get_json(sdk, "/model_sets") or []:
        yield "model_set", obj, None
    for role in paginate(sdk, "/roles/search"):
        yield "role", role, None
    for folder in get_json(sdk, "/folders") or []:
        yield "folder", folder, None
    models = list(paginate(sdk, "/lookml_models"))
    for model in models:
        yield "lookml_model", model, None
    for model in models:
        for nav in model.get("explores") or []:
            path = f"/lookml_models/{quote(model['name'])}/explores/{quote(nav['name'])}"
            yield "explore", get_json(sdk, path), None
    # Listings give the short forms; a look's query and a dashboard's tiles, filters and layouts
    # come with the one-object GET.
    for kind, path in (("look", "/looks"), ("dashboard", "/dashboards")):
        live = [o["id"] for o in paginate(sdk, f"{path}/search", fields="id")]
        trashed = [o["id"] for o in _trashed(sdk, f"{path}/search") if o.get("deleted")]
        for obj in _fetch_all(sdk, path, [*live, *trashed], workers):
            yield kind, obj, _deleted_at(obj) if obj.get("deleted") else None
    for board in get_json(sdk, "/boards") or []:
        yield "board", board, None
    for plan in get_json(sdk, "/scheduled_plans", all_users="true") or []:
        yield "scheduled_plan", plan, None


def _deleted_at(obj: dict[str, Any]) -> str:
    return obj.get("deleted_at") or datetime.now(UTC).isoformat()


def _fetch_all(
    sdk: methods40.Looker40SDK, path: str, ids: list[str], workers: int, chunk: int = 200
) -> Iterator[dict[str, Any]]:
    """GET {path}/{id} for each id, a few in parallel, in id order, chunk by chunk."""
    fetch: Callable[[str], dict[str, Any]] = lambda i: get_json(sdk, f"{path}/{quote(i)}")  # noqa: E731
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for start in range(0, len(ids), chunk):
            yield from pool.map(fetch, ids[start : start + chunk])


def extract(
    base_url: str,
    out: str | Path,
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    id_style: IdStyle = "plain",
    workers: int = 4,
    overwrite: bool = False,
    timeout: int = 60,
    verify_ssl: bool = True,
) -> dict[str, int]:
    """Back up the instance at base_url into a new lookervault file; return counts per type."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists (use --overwrite)")
    partial = out.with_name(out.name + ".partial")
    sdk = make_sdk(
        base_url,
        client_id,
        client_secret,
        timeout=timeout,
        pool_size=max(10, workers * 2),
        verify_ssl=verify_ssl,
    )
    counts: dict[str, int] = {}
    try:
        sdk.auth.authenticate({})  # log in once, before any parallel requests
        with BackupWriter(partial, source=base_url, id_style=id_style, overwrite=True) as writer:
            for content_type, obj, deleted_at in extract_objects(sdk, workers=workers):
                writer.add(content_type, obj, deleted_at=deleted_at)
                counts[content_type] = counts.get(content_type, 0) + 1
        partial.replace(out)
    except BaseException:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
        raise
    finally:
        # A failed logout must not hide the extraction's own outcome.
        with contextlib.suppress(Exception):
            sdk.auth.logout()
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m looker_emulator extract",
        description="Back up a running Looker (or emulator) to a lookervault SQLite file.",
    )
    parser.add_argument(
        "--from", dest="url", required=True, help="base URL, e.g. http://127.0.0.1:19999"
    )
    parser.add_argument("--out", required=True, help="backup file to create")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument(
        "--id-style",
        choices=("plain", "composite"),
        default="plain",
        help="plain IDs like lookervault's parallel extractor (default) or type::id like its sequential one",
    )
    parser.add_argument("--workers", type=int, default=4, help="parallel look/dashboard fetches")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per API request")
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify the server's TLS certificate"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    try:
        counts = extract(
            args.url,
            args.out,
            client_id=args.client_id,
            client_secret=args.client_secret,
            id_style=args.id_style,
            workers=args.workers,
            timeout=args.timeout,
            verify_ssl=not args.insecure,
            overwrite=args.overwrite,
        )
    except (ApiCallError, FileExistsError, OSError) as exc:
        print(f"extract failed: {exc}", file=sys.stderr)
        return 1
    summary = {
        "out": str(args.out),
        "source": args.url,
        "items": sum(counts.values()),
        "counts": counts,
        "seconds": round(time.monotonic() - started, 2),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
