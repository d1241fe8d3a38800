"""Errors of the restore engine. Classification is by HTTP status, never by message text."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# Failures that may go away if we wait: rate limiting, server trouble, the network.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class RestoreError(Exception):
    """Base class of everything the engine raises on purpose."""


class LookerApiError(RestoreError):
    """A Looker API call failed. Carries what the SDK's own SDKError loses.

    `status` is None for connection errors and timeouts (`kind` says which). `headers` keeps
    Retry-After; `body` is the response text (Looker's JSON error document when there is one).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: str = "",
        method: str = "",
        path: str = "",
        kind: str = "http",  # "http", "connection", "timeout"
        request_payload: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers = dict(headers or {})
        self.body = body
        self.method = method
        self.path = path
        self.kind = kind
        self.request_payload = request_payload

    @property
    def transient(self) -> bool:
        """True when retrying later may succeed (429, 5xx, connection errors, timeouts)."""
        return self.status is None or self.status in TRANSIENT_STATUSES

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait (Retry-After), if it said."""
        value = {k.lower(): v for k, v in self.headers.items()}.get("retry-after")
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None

    def __str__(self) -> str:
        where = f"{self.method} {self.path}".strip()
        status = self.status if self.status is not None else self.kind
        return f"{self.message} ({status}{' on ' + where if where else ''})"


class MissingDependencyError(RestoreError):
    """A reference inside an item cannot be translated to a destination ID."""


class ItemTooLargeError(RestoreError):
    """The item cannot be sent through the API (413 or over a known limit); never retried."""


def none_if_missing(get: Callable[[], Any]) -> Any:
    """What `get` answers, or None when Looker answers 404: the object does not exist."""
    try:
        return get()
    except LookerApiError as exc:
        if exc.status == 404:
            return None
        raise


class IncompleteDashboardError(RestoreError):
    """Some tiles of a dashboard could not be written; everything else of it was."""


class DashboardTilesBlocked(IncompleteDashboardError, MissingDependencyError):
    """Tiles left out for a missing dependency only (their query, look or merge query): blocked."""


class ItemHeldError(RestoreError):
    """Another session writing into the same destination at once holds this backup item: it is
    left to that session (never looked up and written by both); a retry can run it later."""
