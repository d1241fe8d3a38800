"""The retry policy: tenacity, exponential backoff with full jitter, by HTTP status only.

Transient failures (429, 5xx, connection errors, timeouts: `LookerApiError.transient`) are retried
up to `max_retries` times; everything else (400, 401, 403, 404, 409, 422, a missing reference, an
item too large) fails at once and goes to the dead-letter queue. Waiting for a 429's Retry-After is
the rate limiter's job (it pauses every worker), so the backoff here stays short.

Like stamina's `set_testing`, `set_testing(True)` makes every wait tiny so tests never sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from restore.engine.core import documents
from restore.engine.core.errors import LookerApiError, none_if_missing

T = TypeVar("T")


@dataclass(slots=True)
class _Config:
    testing: bool = False
    initial: float = 0.5
    max_wait: float = 30.0
    jitter: float = 1.0


_config = _Config()
_lock = threading.Lock()


def set_testing(testing: bool, *, max_wait: float = 0.01) -> None:
    """Tests: keep the policy (what is retried, how often) but make every wait at most `max_wait`."""
    with _lock:
        _config.testing = testing
        _config.max_wait = max_wait if testing else 30.0
        _config.initial = min(0.5, max_wait) if testing else 0.5
        _config.jitter = min(1.0, max_wait) if testing else 1.0


def is_testing() -> bool:
    return _config.testing


def is_retryable(exc: BaseException) -> bool:
    """Retry only what may go away by itself; decided by status (or no status), never by text."""
    return isinstance(exc, LookerApiError) and exc.transient


def _wait(retry_state: RetryCallState) -> float:
    policy = wait_exponential_jitter(
        multiplier=_config.initial, max=_config.max_wait, jitter=_config.jitter
    )
    return min(_config.max_wait, policy(retry_state))


def describe_failure(exc: BaseException) -> documents.Attempt:
    """One entry of an item's attempt history (kept on its dead-letter record)."""
    attempt = documents.Attempt(
        at=time.time(), error_class=type(exc).__name__, message=str(exc)[:2000]
    )
    if isinstance(exc, LookerApiError):
        attempt.status, attempt.kind = exc.status, exc.kind
        attempt.method, attempt.path, attempt.retry_after = exc.method, exc.path, exc.retry_after
    return attempt


def retry_label(exc: BaseException) -> str:
    """What a retried error is called on the pages: its HTTP status, else its kind ("timeout")."""
    if isinstance(exc, LookerApiError):
        return str(exc.status) if exc.status else str(exc.kind or "network error")
    return type(exc).__name__


OnRetry = Callable[[BaseException], None]


def call_with_retries(
    fn: Callable[[], T],
    *,
    max_retries: int,
    history: list[documents.Attempt] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_retry: OnRetry | None = None,
) -> T:
    """Call `fn`, retrying transient failures; the last exception propagates unchanged.

    Every failed attempt is appended to `history`. `should_stop` (a cancellation) ends the retries
    early: the item fails with its last error and can be retried from the DLQ. `on_retry` hears
    of each error that is retried (not of the last one, which propagates).

    The first attempt runs outside tenacity (setting up its machinery for every request cost
    more than a request's own work at the client); when it fails, the error is judged first
    (recorded in `history`, and most are not retryable: a 404, a 422), and only one that is
    retried hands over to tenacity, from that failure, as if tenacity had made the attempt.
    """
    try:
        return fn()
    except BaseException as exc:  # whatever tenacity would have seen  # noqa: BLE001
        first = exc
    retry_this = _judge(history, should_stop)
    if not retry_this(first):
        raise first
    failed, unjudged = [first], [False]

    def attempt() -> T:
        if failed:
            raise failed.pop()
        unjudged[0] = True
        return fn()

    def judged(exc: BaseException) -> bool:
        return retry_this(exc) if unjudged[0] else True  # the first failure was judged above

    return _retrying(max_retries, judged, on_retry)(attempt)


def _judge(
    history: list[documents.Attempt] | None, should_stop: Callable[[], bool] | None
) -> Callable[[BaseException], bool]:
    """Whether a failed attempt is tried again (each one is recorded in `history`)."""

    def retry_this(exc: BaseException) -> bool:
        if history is not None:
            history.append(describe_failure(exc))
        if should_stop is not None and should_stop():
            return False
        return is_retryable(exc)

    return retry_this


def _retrying(
    max_retries: int, retry_this: Callable[[BaseException], bool], on_retry: OnRetry | None
) -> Retrying:
    """The tenacity policy `call_with_retries` applies to an attempt that failed."""

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            on_retry(state.outcome.exception())

    return Retrying(
        stop=stop_after_attempt(max_retries + 1),
        wait=_wait,
        retry=retry_if_exception(retry_this),
        before_sleep=before_sleep,
        reraise=True,
    )


class RetryingClient:
    """The Looker client with its idempotent requests (GET, PATCH, PUT) retried one by one.

    A dashboard with fifty tiles makes a hundred requests; at a 5% error rate retrying the whole
    item almost never succeeds, so repeatable requests are retried where they fail. POSTs and
    DELETEs are not (a lost POST response is handled per item: intent + adoption by natural key).
    """

    def __init__(self, client: Any, max_retries: int, on_retry: OnRetry | None = None) -> None:
        self._client = client
        self._max_retries = max_retries
        self._on_retry = on_retry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _retry(self, fn: Callable[[], T]) -> T:
        return call_with_retries(fn, max_retries=self._max_retries, on_retry=self._on_retry)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._retry(lambda: self._client.get(path, params))

    def get_or_none(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return none_if_missing(lambda: self.get(path, params))

    def patch(self, path: str, body: Any) -> Any:
        return self._retry(lambda: self._client.patch(path, body))

    def put(self, path: str, body: Any) -> Any:
        return self._retry(lambda: self._client.put(path, body))
