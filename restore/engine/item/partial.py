"""A dashboard restored but for some tiles: which tiles, and why, as the item's one error.

The rest of the dashboard is written first (`children.sync_dashboard`); then the item ends with
this error, which names every tile left out, so the DLQ entry says what a retry will add.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from restore.engine.core.errors import (
    DashboardTilesBlocked,
    IncompleteDashboardError,
    LookerApiError,
    MissingDependencyError,
    RestoreError,
)

LEFT_OUT_NOTE = "the dashboard's other tiles, filters and layout were restored"


@dataclass(frozen=True)
class TileFailure:
    """A backup tile that could not be written, and why."""

    tile: dict[str, Any]
    error: RestoreError

    def describe(self) -> str:
        t = self.tile
        title = t.get("title") or t.get("title_text") or "untitled"
        reason = str(self.error)
        if isinstance(self.error, LookerApiError) and self.error.body:
            reason += f": {self.error.body[:300]}"
        return f"tile {t.get('id')} ({title!r}) left out: {reason}"


def incomplete_dashboard(failures: list[TileFailure]) -> RestoreError:
    """The item's error: a transient failure as it is (the item is retried whole, its tiles
    pairing by content); missing dependencies only: blocked; otherwise failed."""
    for failure in failures:
        if isinstance(failure.error, LookerApiError) and failure.error.transient:
            return failure.error
    message = "; ".join(f.describe() for f in failures) + f" ({LEFT_OUT_NOTE})"
    if all(isinstance(f.error, MissingDependencyError) for f in failures):
        return DashboardTilesBlocked(message)
    return IncompleteDashboardError(message)
