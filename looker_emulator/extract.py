"""`python -m looker_emulator extract --from URL --out BACKUP.db`: a lookervault backup over the API.

Two shapes of blob, one file format (the backup is written to `OUT.partial` and renamed when
complete, so a failed run leaves no half backup):

- `shape="lookervault"` (the default) writes what `lookervault extract` writes: the same SDK calls
  in the same order (`search_dashboards`, `search_looks`, `all_lookml_models`, `all_folders`,
  `all_boards`, `all_users`, `all_groups`, `search_roles`, `all_permission_sets`, `all_model_sets`,
  `all_scheduled_plans(all_users=True)`, paginated by 100 where lookervault paginates), each object
  turned into a dict the way lookervault does it (the SDK model's attributes without the `None`
  ones; nested models keep all their fields, timestamps become msgpack timestamps), its session
  config (`content_types`, `batch_size`, `fields`, plus `workers`/`queue_size` in its parallel mode,
  i.e. with plain IDs) and its row conversion. Like lookervault it backs up no explores (its
  extractor has no branch for them) and no trashed content (the searches leave it out), and records
  no source instance. A look carries `query_id` but no `query`.
- `shape="raw"` keeps the emulator's older extract for tests that need embedded content: the API's
  JSON as returned, looks and dashboards fetched one by one (a look with its `query`, a dashboard
  with its tiles, filters and layouts), explores, and trashed dashboards and looks (found with
  `search_*(deleted=true)`, the row's `deleted_at` set from the object's `deleted_at`, else the
  extraction time; the object keeps its own `deleted` flag).

The SDK is built with `looker_sdk.init40(config_settings=...)` from an explicit settings object
(never `LOOKERSDK_*` environment variables). Its transport is wrapped so a failed call raises
`ApiCallError` with the HTTP status and Looker's error body before the SDK's error path could run
`ErrorDocHelper` (an outbound HTTP call without a timeout). The raw shape fetches the JSON the API
returned (`get_json`); the lookervault shape goes through the SDK's typed models, as lookervault
does, and so drops the fields the SDK does not know, as lookervault's backups do.
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
from typing import Any, Literal

import looker_sdk
import requests
from looker_sdk.rtl import api_methods, api_settings, transport
from looker_sdk.sdk.api40 import methods as methods40

from looker_emulator.backup import CONTENT_TYPES, BackupWriter, IdStyle
from looker_emulator.testing import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

Shape = Literal["lookervault", "raw"]
SHAPES: tuple[Shape, ...] = ("lookervault", "raw")
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
    text = with_retries(lambda: sdk.get(path, structure=str, query_params=params or None))
    return json.loads(text) if text else None


def with_retries(call: Callable[[], Any]) -> Any:
    """call(), again on 429, 5xx and lost connections (honouring Retry-After), else its error."""
    for attempt in range(RETRIES + 1):
        try:
            return call()
        except ApiCallError as exc:
            if attempt == RETRIES or not (exc.status is None or exc.status in TRANSIENT):
                raise
            time.sleep(min(exc.retry_after or 0.2 * 2**attempt, MAX_WAIT_S))
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


# lookervault's content types in the order it extracts them, with the SDK method and whether it
# pages (limit/offset by 100). Explores are left out: lookervault's extractor has no branch for them.
LOOKERVAULT_CALLS: tuple[tuple[str, str, bool, dict[str, Any]], ...] = (
    ("dashboard", "search_dashboards", True, {}),
    ("look", "search_looks", True, {}),
    ("lookml_model", "all_lookml_models", False, {}),
    ("folder", "all_folders", False, {}),
    ("board", "all_boards", False, {}),
    ("user", "all_users", True, {}),
    ("group", "all_groups", True, {}),
    ("role", "search_roles", True, {}),
    ("permission_set", "all_permission_sets", False, {}),
    ("model_set", "all_model_sets", False, {}),
    ("scheduled_plan", "all_scheduled_plans", False, {"all_users": True}),
)


def sdk_object_to_dict(obj: Any) -> dict[str, Any]:
    """lookervault's conversion: the model's public attributes that are not None (nested models
    stay models: msgspec encodes them with all their fields)."""
    return {k: v for k, v in vars(obj).items() if v is not None and not k.startswith("_")}


def lookervault_objects(
    sdk: methods40.Looker40SDK, batch_size: int = PAGE_SIZE
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(content type, object as lookervault stores it) through the SDK's typed methods."""
    for content_type, method_name, pages, kwargs in LOOKERVAULT_CALLS:
        method = getattr(sdk, method_name)
        if not pages:
            for obj in with_retries(lambda m=method, kw=kwargs: m(**kw)) or []:
                yield content_type, sdk_object_to_dict(obj)
            continue
        offset = 0
        while True:
            page = with_retries(lambda m=method, o=offset: m(limit=batch_size, offset=o)) or []
            for obj in page:
                yield content_type, sdk_object_to_dict(obj)
            if len(page) < batch_size:
                break
            offset += batch_size


def lookervault_config(id_style: IdStyle, workers: int) -> dict[str, Any]:
    """`extraction_sessions.config` as lookervault writes it (parallel mode: plain IDs)."""
    config: dict[str, Any] = {
        "content_types": [CONTENT_TYPES[c] for c, *_ in LOOKERVAULT_CALLS],
        "batch_size": PAGE_SIZE,
        "fields": None,
    }
    if id_style == "plain":
        config |= {"workers": workers, "queue_size": workers * 100}
    return config


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
    shape: Shape = "lookervault",
    workers: int = 4,
    overwrite: bool = False,
    timeout: int = 60,
    verify_ssl: bool = True,
) -> dict[str, int]:
    """Back up the instance at base_url into a new lookervault file; return counts per type.

    shape="lookervault" writes lookervault's blobs; shape="raw" the API's JSON with looks' queries
    and dashboards' tiles embedded (see the module docstring)."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, not {shape!r}")
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
    try:
        sdk.auth.authenticate({})  # log in once, before any parallel requests
        counts = _write(sdk, partial, shape=shape, id_style=id_style, workers=workers)
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


def _write(
    sdk: methods40.Looker40SDK, path: Path, *, shape: Shape, id_style: IdStyle, workers: int
) -> dict[str, int]:
    """Write the backup of the instance to path (replacing it); return counts per type."""
    if shape == "raw":
        objects = extract_objects(sdk, workers=workers)
    else:
        objects = ((content_type, obj, None) for content_type, obj in lookervault_objects(sdk))
    counts: dict[str, int] = {}
    config = lookervault_config(id_style, workers)
    with BackupWriter(
        path, config=config, id_style=id_style, overwrite=True, record_completion=True
    ) as writer:
        for content_type, obj, deleted_at in objects:
            writer.add(content_type, obj, deleted_at=deleted_at)
            counts[content_type] = counts.get(content_type, 0) + 1
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
    parser.add_argument(
        "--raw-blobs",
        action="store_true",
        help="store the API's JSON with looks' queries and dashboards' tiles embedded, explores and"
        " trashed content (the emulator's older shape), not lookervault's SDK-model blobs",
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
            shape="raw" if args.raw_blobs else "lookervault",
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
