"""Turn a session's published progress (`RestoreSession.progress`) into what the page displays.

The execution layer writes the progress JSON; this module only reads it, tolerating missing keys so
that a page never breaks on a session that has not published anything yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from restore.engine.content_types import RESTORE_ORDER, ContentType
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


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _type_slug(key: str) -> str:
    try:
        return ContentType.parse(key).slug
    except ValueError:
        return str(key)


def _order(slug: str) -> int:
    order = [t.slug for t in RESTORE_ORDER]
    return order.index(slug) if slug in order else len(order)


def type_bars(progress: dict[str, Any]) -> list[TypeBar]:
    by_type = progress.get("by_type") or progress.get("types") or {}
    bars = []
    for key, counts in by_type.items():
        if not isinstance(counts, dict):
            continue
        done = counts.get("done")
        if done is None:
            done = sum(
                int(counts.get(k) or 0)
                for k in ("created", "updated", "unchanged", "skipped", "failed")
            )
        bars.append(
            TypeBar(
                _type_slug(key),
                int(counts.get("total") or 0),
                int(done),
                int(counts.get("failed") or 0),
            )
        )
    return sorted(bars, key=lambda b: _order(b.slug))


def chart(series: list[Any]) -> dict[str, list[float]]:
    """Seconds since the start and items/s, for the throughput chart (uPlot's column format)."""
    times: list[float] = []
    rates: list[float] = []
    for index, point in enumerate(series[-600:]):
        if isinstance(point, dict):
            value = _number(
                point.get("rate") or point.get("throughput") or point.get("items_per_s") or 0
            )
            moment = _number(point.get("t"))
        elif isinstance(point, (list, tuple)) and point:
            value, moment = _number(point[-1]), _number(point[0]) if len(point) > 1 else None
        else:
            value, moment = _number(point), None
        if value is None:
            continue
        times.append(moment if moment is not None else float(index))
        rates.append(round(value, 2))
    if len(rates) < 2:
        return {}
    return {"t": times, "rate": rates}


def limiter_sentence(limiter: Any, total: int) -> str:
    """The rate limiter in one sentence, or "" when it has nothing worth a person's attention.

    Tolerant of what the limiter publishes: a `settled_rate` is shown as such when present."""
    if not isinstance(limiter, dict) or not limiter:
        return ""
    throttles = int(_number(limiter.get("throttle_events")) or 0)
    if total < LIMITER_SHOWN_FROM and not throttles:
        return ""
    paused = _number(limiter.get("paused_for")) or 0.0
    settled = _number(limiter.get("settled_rate"))
    current = _number(limiter.get("current_rate"))
    configured = _number(limiter.get("configured_rate"))
    answers = f"{throttles} “too many requests” answer{'s' if throttles != 1 else ''} from Looker"
    if paused > 0.5:
        return f"Paused by Looker's rate limit; resuming in {paused:.0f} s ({answers})."
    if settled is not None:
        return f"Settled at {settled:g} requests/s" + (f" after {answers}." if throttles else ".")
    if throttles and current is not None:
        return f"Slowed to {current:g} requests/s after {answers}."
    if throttles:
        return f"Looker throttled this session ({answers})."
    if configured:
        return f"At most {configured:g} requests/s; Looker has not throttled this session."
    return ""


def error_row(error: Any) -> dict[str, Any]:
    if not isinstance(error, dict):
        return {"item": "", "status": "", "error_class": "", "message": str(error)}
    ct = error.get("content_type") or error.get("type")
    item = " ".join(
        str(x)
        for x in (
            _type_slug(ct) if ct is not None else "",
            error.get("content_id") or error.get("id"),
        )
        if x
    )
    return {
        "item": item,
        "status": error.get("http_status") or error.get("status") or "",
        "error_class": error.get("error_class") or "",
        "message": error.get("message") or error.get("error") or "",
    }


def progress_view(session: RestoreSession) -> ProgressView:
    progress = session.progress or {}
    total = int(progress.get("total") or session.total or 0)
    done = progress.get("done")
    view = ProgressView(
        session=session, done=int(done) if done is not None else session.done_count, total=total
    )
    # The runner publishes its own counters between the (less frequent) session row updates.
    view.counts = {
        key: int(progress.get(key) if progress.get(key) is not None else getattr(session, key))
        for key in COUNTERS
    }
    view.types = type_bars(progress)
    view.throughput = _number(progress.get("throughput") or progress.get("items_per_second"))
    view.eta_seconds = _number(progress.get("eta_seconds") or progress.get("eta"))
    view.elapsed_seconds = _number(progress.get("elapsed_seconds"))
    view.rate_limiter = limiter_sentence(progress.get("rate_limiter"), total)
    errors = progress.get("recent_errors") or []
    view.recent_errors = [error_row(e) for e in errors[-10:]]
    series = progress.get("throughput_series") or progress.get("series") or progress.get("history")
    view.chart = chart(series if isinstance(series, list) else [])
    view.current_type = _type_slug(progress["current_type"]) if progress.get("current_type") else ""
    return view


def retried_sentence(progress: dict[str, Any] | None) -> str:
    """ "280 transient errors retried (503 ×200, 429 ×80)"; "" when none was."""
    counts = (progress or {}).get("transient_retried") or {}
    total = sum(int(n) for n in counts.values())
    if not total:
        return ""
    parts = ", ".join(
        f"{label} ×{n}" for label, n in sorted(counts.items(), key=lambda kv: (-int(kv[1]), kv[0]))
    )
    return f"{total} transient {'error' if total == 1 else 'errors'} retried ({parts})"
