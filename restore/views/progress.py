"""Turn a session's published progress (`documents.Progress`) into what the page displays.

The runner writes the document; this module reads it through `documents.read_progress` only. A
session that has not published anything yet shows its row's counters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from restore.engine import (
    RESTORE_ORDER,
    ContentType,
    LimiterState,
    Progress,
    RatePoint,
    RecentError,
    read_progress,
    read_summary,
)
from restore.models import RestoreSession

COUNTERS = ("created", "updated", "unchanged", "skipped", "failed")
# Below this many items the rate limiter is noise on the page (unless Looker throttled).
LIMITER_SHOWN_FROM = 50


@dataclass
class TypeBar:
    slug: str
    total: int
    done: int
    failed: int

    @property
    def percent(self) -> int:
        return percent(self.done, self.total)

    @property
    def fail_percent(self) -> int:
        return max(1, min(self.percent, percent(self.failed, self.total))) if self.failed else 0

    @property
    def ok_percent(self) -> int:
        return self.percent - self.fail_percent


@dataclass
class ProgressView:
    session: RestoreSession
    done: int
    total: int
    types: list[TypeBar] = field(default_factory=list)
    throughput: float | None = None
    eta_seconds: float | None = None
    elapsed_seconds: float | None = None
    rate_limiter: str = ""
    items_at_once: str = ""
    recent_errors: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    chart: dict[str, list[float]] = field(default_factory=dict)
    current_type: str = ""

    @property
    def percent(self) -> int:
        return percent(self.done, self.total)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    @property
    def fail_percent(self) -> int:
        """The red part of the bar: never hidden behind a full "done" bar."""
        if not self.failed:
            return 0
        return max(1, min(self.percent, percent(self.failed, self.total)))

    @property
    def ok_percent(self) -> int:
        return self.percent - self.fail_percent


def percent(done: int, total: int) -> int:
    if total <= 0:
        return 100 if done else 0
    return max(0, min(100, round(100 * done / total)))


def _type_slug(key: str) -> str:
    try:
        return ContentType.parse(key).slug
    except ValueError:
        return str(key)


def _order(slug: str) -> int:
    order = [t.slug for t in RESTORE_ORDER]
    return order.index(slug) if slug in order else len(order)


def type_bars(progress: Progress) -> list[TypeBar]:
    bars = [
        TypeBar(_type_slug(key), row.total, row.done, row.failed)
        for key, row in progress.by_type.items()
    ]
    return sorted(bars, key=lambda b: _order(b.slug))


def chart(series: list[RatePoint]) -> dict[str, list[float]]:
    """Seconds since the start and items/s, for the throughput chart (uPlot's column format)."""
    points = series[-600:]
    if len(points) < 2:
        return {}
    return {"t": [p.t for p in points], "rate": [round(p.rate, 2) for p in points]}


def limiter_sentence(limiter: LimiterState, total: int) -> str:
    """The rate limiter in one sentence, or "" when it has nothing worth a person's attention."""
    if not limiter.published:
        return ""
    throttles = limiter.throttle_events
    if total < LIMITER_SHOWN_FROM and not throttles:
        return ""
    answers = f"{throttles} “too many requests” answer{'s' if throttles != 1 else ''} from Looker"
    if limiter.paused_for > 0.5:
        return f"Paused by Looker's rate limit; resuming in {limiter.paused_for:.0f} s ({answers})."
    if limiter.settled_rate is not None:
        settled = f"As fast as Looker allows: {limiter.settled_rate:g} requests/s"
        return settled + (f", found after {answers}." if throttles else ".")
    if throttles and limiter.current_rate is not None:
        return f"Slowed to {limiter.current_rate:g} requests/s after {answers}."
    if throttles:
        return f"Looker throttled this session ({answers})."
    if limiter.configured_rate:
        return (
            f"At most {limiter.configured_rate:g} requests/s; "
            "Looker has not throttled this session."
        )
    return ""


def items_at_once_sentence(progress: Progress) -> str:
    """Why fewer items run at once than there are workers, or "" when as many as allowed do."""
    if not 0 < progress.items_at_once < progress.workers:
        return ""
    return (
        f"{progress.items_at_once} items at once instead of {progress.workers}: the destination "
        "answers at once and the restoring process is using a whole CPU core, so more at once "
        "would only slow it down."
    )


def error_row(error: RecentError) -> dict[str, Any]:
    """A recent error in words people act on (`error_words`), its class kept for engineers."""
    from restore.views.error_words import explain

    item = " ".join(x for x in (_type_slug(error.type) if error.type else "", error.id) if x)
    try:
        ct = int(ContentType.parse(error.type)) if error.type else None
    except ValueError:
        ct = None
    method = re.search(r" on ([A-Z]+) /", error.message or "")
    words = explain(
        error.status,
        error.error_class or "",
        error.message or "",
        content_type=ct,
        method=method.group(1) if method else "",
    )
    return {
        "item": item,
        "status": error.status or "",
        "error_class": error.error_class,
        "message": words,
    }


def progress_view(session: RestoreSession) -> ProgressView:
    progress = read_progress(session.progress)
    if progress is None:  # nothing published yet: the session row's counters
        view = ProgressView(session=session, done=session.done_count, total=session.total)
        view.counts = {key: getattr(session, key) for key in COUNTERS}
        return view
    if not session.is_active:
        return finished_view(session, progress)
    view = ProgressView(session=session, done=progress.done, total=progress.total or session.total)
    view.counts = {key: getattr(progress, key) for key in COUNTERS}
    view.types = type_bars(progress)
    view.throughput = progress.throughput
    view.eta_seconds = honest_eta(progress)
    view.elapsed_seconds = progress.elapsed_seconds
    view.rate_limiter = limiter_sentence(progress.rate_limiter, view.total)
    view.items_at_once = items_at_once_sentence(progress)
    view.recent_errors = [error_row(e) for e in progress.recent_errors[-10:]]
    view.chart = chart(progress.throughput_series)
    view.current_type = _type_slug(progress.current_type) if progress.current_type else ""
    return view


def retried_sentence(progress: Progress | None) -> str:
    """ "280 transient errors retried (503 ×200, 429 ×80)"; "" when none was."""
    counts = progress.transient_retried if progress is not None else {}
    total = sum(int(n) for n in counts.values())
    if not total:
        return ""
    parts = ", ".join(
        f"{label} ×{n}" for label, n in sorted(counts.items(), key=lambda kv: (-int(kv[1]), kv[0]))
    )
    return f"{total} transient {'error' if total == 1 else 'errors'} retried ({parts})"


# Before this share of the items is done, or this many seconds, a time left is a guess.
ETA_FROM_SHARE, ETA_FROM_SECONDS = 0.1, 10.0


def honest_eta(progress: Progress) -> float | None:
    """Time left only once it means something, and never shorter than the pace so far says: the
    last seconds' rate alone promised "14 s left" on a run that took another 40 (later types,
    dashboards, are slower than the users and groups before them)."""
    done, total, elapsed = progress.done, progress.total, progress.elapsed_seconds or 0.0
    if progress.eta_seconds is None or not done or done >= total:
        return None
    if done < ETA_FROM_SHARE * total or elapsed < ETA_FROM_SECONDS:
        return None
    return max(progress.eta_seconds, (total - done) * elapsed / done)


def finished_view(session: RestoreSession, progress: Progress) -> ProgressView:
    """A finished run's panel says what its header, summary table and CSV say: the counters kept
    from its result rows (a retry never changes them), per type from its summary. The live
    document only adds what the rows do not hold (the throughput chart, the last errors)."""
    view = ProgressView(session=session, done=session.done_count, total=session.total)
    view.counts = {key: getattr(session, key) for key in COUNTERS}
    summary = read_summary(session.summary)
    planned = {_type_slug(key): row.total for key, row in progress.by_type.items()}
    if summary is not None and summary.by_type:
        bars = [
            TypeBar(slug, max(planned.get(slug, 0), c.done), c.done, c.failed)
            for slug, c in summary.by_type.items()
        ]
        view.types = sorted(bars, key=lambda b: _order(b.slug))
    else:
        view.types = type_bars(progress)
    view.elapsed_seconds = progress.elapsed_seconds
    view.rate_limiter = limiter_sentence(progress.rate_limiter, view.total)
    view.recent_errors = [error_row(e) for e in progress.recent_errors[-10:]]
    view.chart = chart(progress.throughput_series)
    return view
