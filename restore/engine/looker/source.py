"""The instance a backup came from, read only: what is immutable and missing from the backup.

A lookervault backup holds looks without their query and no merge queries at all. When the user
names the source instance (`--source NAME`, the restore form's "Source instance (read only)"), a
restore may read exactly two things from it, both immutable in Looker: queries by ID
(`GET /queries/{id}`) and merge queries by ID (`GET /merge_queries/{id}`). This class can do
nothing else: it has no write method, so no code path can write to the source.

Before either is used, the source must be proven to be the instance the backup came from (query
IDs collide across instances, so another instance would silently give other queries): a small
sample of backup items is read there by ID with their immutable fields only (`light`), once per
session (`identity.counterpart.check_source`). Not proven, every read is refused with why
(`refuse`), so the items that need the source are blocked saying so.

Every answer, a refusal included, is kept for the session: a query is read at most once however
many looks and tiles show it. Requests pass the session's rate limiting like any other (a limiter
of their own, on the source's own budget). A source that cannot be read (unreachable, login
refused, 404) blocks the items that need it, with that reason; nothing else is affected.
"""

from __future__ import annotations

import threading
from typing import Any

from restore.engine.core.config import RestoreConfig
from restore.engine.core.errors import LookerApiError, MissingDependencyError
from restore.engine.limits.rate_limiter import AdaptiveRateLimiter
from restore.engine.limits.retries import RetryingClient
from restore.engine.looker.client import LookerClient

Body = dict[str, Any]


class SourceUnavailable(MissingDependencyError):
    """The source instance did not give what an item needs (404, unreachable, login refused)."""


class SourceInstance:
    """Reads queries and merge queries by ID from the source instance; cached, never writes."""

    def __init__(self, name: str, client: Any) -> None:
        self.name = name
        self._client = client
        self._lock = threading.Lock()
        # A refusal is kept as its message, never as the exception: one exception object raised
        # by many workers would gather every raise's frames in its traceback (keeping their
        # locals alive) and be mutated by several threads at once.
        self._answers: dict[str, Body | str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self.reads = 0  # requests sent to the source (the login aside)
        self._refusal: str | None = None  # set when the source is not proven the backup's origin

    @classmethod
    def for_destination(cls, destination: Any, config: RestoreConfig) -> SourceInstance:
        client = LookerClient.for_destination(destination, in_flight=config.workers)
        client.set_gate(AdaptiveRateLimiter.from_config(config))
        return cls(destination.name, RetryingClient(client, config.max_retries))

    @classmethod
    def missing(cls, name: str) -> SourceInstance:
        """A source instance no longer registered: every read is refused, saying so."""
        return cls(name, None)

    @property
    def registered(self) -> bool:
        return self._client is not None

    def refuse(self, why: str) -> None:
        """From now on every read is refused with `why` (the source is not the backup's origin)."""
        self._refusal = why

    def light(self, path: str, fields: str) -> Body | None:
        """An object's immutable fields (`fields=`), to compare with the backup's; None: no such
        object; {}: no answer (proves nothing either way). Not cached: the check runs once."""
        if self._client is None:
            return {}
        with self._lock:
            self.reads += 1
        try:
            found = self._client.get_or_none(path, {"fields": fields})
        except LookerApiError:
            return {}
        return found if isinstance(found, dict) or found is None else {}

    def query(self, query_id: Any) -> Body:
        return self._read(f"/queries/{LookerClient.quote(query_id)}", f"query {query_id}")

    def merge_query(self, merge_id: Any) -> Body:
        path = f"/merge_queries/{LookerClient.quote(merge_id)}"
        return self._read(path, f"merge query {merge_id}")

    def _read(self, path: str, what: str) -> Body:
        """One GET per path and session, even when several workers ask at the same moment."""
        if self._refusal is not None:
            raise SourceUnavailable(f"{what}: the source instance {self.name} {self._refusal}")
        with self._lock:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:
            answer = self._answers.get(path)
            if answer is None:
                answer = self._fetch(path, what)
                self._answers[path] = answer
        if isinstance(answer, str):
            raise SourceUnavailable(answer)
        return answer

    def _fetch(self, path: str, what: str) -> Body | str:
        """The object at `path`, or the message of why the source did not give it."""
        if self._client is None:
            return f"{what}: the source instance {self.name} is not registered"
        with self._lock:
            self.reads += 1
        try:
            found = self._client.get(path)
        except LookerApiError as exc:
            if exc.status == 404:
                return f"{what}: the source instance {self.name} has none (404)"
            return f"{what}: the source instance {self.name} is unreachable: {exc}"
        if not isinstance(found, dict):
            return f"{what}: the source instance {self.name} answered no object"
        return found
