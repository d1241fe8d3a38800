"""The JSON documents the engine writes and the pages read, as one typed contract.

A session's progress (published with each heartbeat) and summary (at the end), an item's recorded
changes (its diff), and a dead letter's attempts are stored in JSONFields. Writers build these
Structs and store `store(doc)`; readers decode with the one `read_*` function of each document,
so a renamed key fails loudly in one place instead of a view guessing at names. The shapes older
versions wrote are converted here, in the readers, and nowhere else.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

COUNTED = ("created", "updated", "unchanged", "skipped", "failed")


def store(doc: Struct) -> Any:
    """What a JSONField holds: plain builtins, unset fields left out."""
    return msgspec.to_builtins(doc)


# -- counters -------------------------------------------------------------------------------------
class Counts(Struct, forbid_unknown_fields=True):
    """An item count per outcome (a type's row in a summary)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped + self.failed


class TypeProgress(Struct, forbid_unknown_fields=True):
    """A type's row in the live progress: its counts, how many are done and of how many."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    done: int = 0
    total: int = 0


# -- progress -------------------------------------------------------------------------------------
class RecentError(Struct, forbid_unknown_fields=True):
    """One of the last failures, for the live page ("dashboard 12: LookerApiError 422 …")."""

    type: str = ""
    id: str = ""
    error_class: str = ""
    message: str = ""
    at: str = ""
    status: int | None = None  # the HTTP status of an API error


class RatePoint(Struct, forbid_unknown_fields=True):
    """Items per second `t` seconds after the run started (the throughput chart)."""

    t: float
    rate: float


class LimiterState(Struct):
    """The session's rate limiter as last seen (`AdaptiveRateLimiter.state()`): where it settled
    and why, Looker's 429s, a pause in force. Unknown keys are ignored here, unlike the other
    documents: rows of earlier versions hold limiter keys since dropped (`rate_per_second`)."""

    mode: str = ""  # "ceiling" (a rate the user set) or "finding capacity"
    configured_rate: float | None = None
    current_rate: float | None = None
    settled_rate: float | None = None
    peak_rate: float | None = None
    reason: str = ""
    recent_reasons: list[str] = []
    throttled: bool = False
    paused_for: float = 0.0
    throttle_events: int = 0
    latency_cuts: int = 0
    last_retry_after: float | None = None
    seconds_since_429: float | None = None
    requests: int = 0
    scope: str = ""  # where it is shared: "local", "redis", "database"
    latency_ms: float | None = None
    baseline_latency_ms: float | None = None

    @property
    def published(self) -> bool:
        """Did a limiter publish this (an empty document: no limiter ran)?"""
        return bool(self.mode or self.throttle_events or self.settled_rate is not None)


class Progress(Struct, forbid_unknown_fields=True):
    """What the runner publishes with each heartbeat: counters, per type, speed, recent errors,
    the rate limiter."""

    total: int = 0
    done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    by_type: dict[str, TypeProgress] = {}
    current_type: str = ""
    throughput: float | None = None
    eta_seconds: float | None = None
    elapsed_seconds: float | None = None
    rate_limiter: LimiterState = msgspec.field(default_factory=LimiterState)
    recent_errors: list[RecentError] = []
    error_classes: dict[str, int] = {}
    transient_retried: dict[str, int] = {}  # retried (then passed or failed) by status or kind
    throughput_series: list[RatePoint] = []
    updated_at: str = ""
    # Items run at once now, and the most the workers allow (fewer while the destination answers
    # at once and the process' CPU is the bottleneck, `limits.cpu_load`); 0: not published.
    items_at_once: int = 0
    workers: int = 0


# -- summary --------------------------------------------------------------------------------------
class BlockedReason(Struct, forbid_unknown_fields=True):
    """Why some items are blocked and what unblocks them, with the items waiting on those
    ("6 looks need their query: it is not in this backup; name the source instance to read it")."""

    text: str
    items: int = 0  # blocked for this reason
    waiting: int = 0  # blocked because they show or schedule one of those
    needs_source: bool = False  # naming the source instance would unblock them


class Summary(Struct, forbid_unknown_fields=True):
    """What a session came to, written when it ends (also `--json` of `restore … --json`).

    The trailing fields are present only where they mean something (unset is left out of the JSON,
    never written as an empty value): the DLQ breakdown once the runner summed it up, what a
    rollback or an applied plan found changed in the destination before its first write."""

    session_id: int = 0
    status: str = ""
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    blocked: int = 0
    since_retried: int = 0
    verify_mismatches: int = 0
    total: int = 0
    by_type: dict[str, Counts] = {}
    duration_s: float | None = None
    error: str | None = None
    instance: dict[str, Any] | None = None
    by_error_class: dict[str, int] | UnsetType = UNSET
    dlq_open: int | UnsetType = UNSET
    throughput: float | None | UnsetType = UNSET
    rate_limiter: LimiterState | UnsetType = UNSET
    changed_since_restore: list[str] | None | UnsetType = UNSET
    changed_since_restore_count: int | None | UnsetType = UNSET
    changed_since_plan: list[str] | UnsetType = UNSET
    changed_since_plan_count: int | UnsetType = UNSET
    blocked_reasons: list[BlockedReason] | UnsetType = UNSET


def changed_count(value: int | None | UnsetType) -> int:
    """A `changed_since_*_count` as a number (unset or None: nothing was found changed)."""
    return value if isinstance(value, int) else 0


# -- an item's changes ----------------------------------------------------------------------------
class Change(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """One write an item needed: a PATCH's changed fields ({name: [before, after]}) or a POST's
    body. A PUT or DELETE has neither."""

    method: str
    path: str = ""
    fields: dict[str, Any] | None = None
    body: Any = None


class Diff(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """An item result's recorded changes (over both passes), the fields that read back different
    after writing (`--verify`), and its second pass: still to do (`deferred`), or done."""

    changes: list[Change] = []
    verify: dict[str, Any] | None = None
    deferred: list[str] | None = None
    second_pass: list[str] | None = None


# -- a dead letter's attempts ---------------------------------------------------------------------
class Attempt(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """One failed attempt of an item (kept on its dead-letter record): when (epoch seconds), what
    failed, and for an API error the request and its answer."""

    at: float | None = None
    error_class: str = ""
    message: str = ""
    status: int | None = None
    kind: str | None = None
    method: str | None = None
    path: str | None = None
    retry_after: float | None = None

    @property
    def when(self) -> dt.datetime | None:
        return dt.datetime.fromtimestamp(self.at, dt.UTC) if self.at is not None else None


# -- readers: the one place that knows the stored shapes ------------------------------------------
# Since the first version the engine has written these same keys; what differs in older rows is
# only what they spelled out: a diff's `"verify": null`, a rollback summary's `null` counts. Those
# decode as they are. A key the Structs do not know (a renamed one) is an error here, not a guess
# in a page.


def read_progress(raw: Any) -> Progress | None:
    """A session's progress, or None when its runner has not published any yet."""
    if not raw:
        return None
    return msgspec.convert(raw, Progress, strict=False)


def read_summary(raw: Any) -> Summary | None:
    """A session's summary, or None when it has none yet."""
    if not raw:
        return None
    return msgspec.convert(raw, Summary, strict=False)


def read_diff(raw: Any) -> Diff | None:
    """An item's recorded changes, or None when it recorded none."""
    if not raw:
        return None
    return msgspec.convert(raw, Diff, strict=False)


def read_attempts(raw: Any) -> list[Attempt]:
    """A dead letter's attempts, oldest first."""
    return msgspec.convert(raw or [], list[Attempt], strict=False)


# msgspec 0.22 builds a Struct type's conversion tables on the type's first use, without a lock:
# worker threads converting a type for the first time at once can crash the whole process
# (SIGSEGV). A decoder of each document built here, when the module is imported (by one thread,
# before any worker exists), builds those tables once for every Struct the readers reach.
for _document in (Progress, Summary, Diff, list[Attempt], LimiterState):
    msgspec.json.Decoder(_document)
del _document
