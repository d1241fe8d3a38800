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
CHART_WIDTH = 600
CHART_HEIGHT = 120


@dataclass
class TypeBar:
    slug: str
    total: int
    done: int
    failed: int

    @property
    def percent(self) -> int:
        return percent(self.done, self.total)


@dataclass
class ProgressView:
    session: RestoreSession
    done: int
    total: int
    types: list[TypeBar] = field(default_factory=list)
    throughput: float | None = None
    eta_seconds: float | None = None
    rate_limiter: dict[str, Any] = field(default_factory=dict)
    recent_errors: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    chart_points: str = ""
    chart_max: float = 0.0
    current_type: str = ""

    @property
    def percent(self) -> int:
        return percent(self.done, self.total)


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


def chart(series: list[Any]) -> tuple[str, float]:
    """Polyline points for a throughput-over-time chart (items/s), scaled into the SVG box."""
    values = []
    for point in series[-120:]:
        if isinstance(point, dict):
            value = _number(
                point.get("rate") or point.get("throughput") or point.get("items_per_s")
            )
        elif isinstance(point, (list, tuple)) and point:
            value = _number(point[-1])
        else:
            value = _number(point)
        if value is not None:
            values.append(value)
    if len(values) < 2:
        return "", max(values, default=0.0)
    top = max(values) or 1.0
    step = CHART_WIDTH / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{CHART_HEIGHT - (v / top) * (CHART_HEIGHT - 4):.1f}"
        for i, v in enumerate(values)
    )
    return points, top


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
    limiter = progress.get("rate_limiter") or progress.get("rate_limit") or {}
    limiter = limiter if isinstance(limiter, dict) else {"state": str(limiter)}
    view.rate_limiter = {str(k).replace("_", " "): v for k, v in limiter.items()}
    errors = progress.get("recent_errors") or []
    view.recent_errors = [error_row(e) for e in errors[-10:]]
    series = progress.get("throughput_series") or progress.get("series") or progress.get("history")
    view.chart_points, view.chart_max = chart(series if isinstance(series, list) else [])
    view.current_type = _type_slug(progress["current_type"]) if progress.get("current_type") else ""
    return view
