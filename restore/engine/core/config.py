"""A restore session's options, validated once and stored as JSON on the session."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RestoreConfig(BaseModel):
    """What the user asked for. Stored in `RestoreSession.config`; defaults are the product's."""

    model_config = ConfigDict(extra="forbid")

    workers: int = Field(8, ge=1, le=32)
    # Sub-requests per worker: one item's independent writes (a dashboard's tiles, filters and
    # layout components) sent at once. The session shares workers × fanout of them, so one
    # dashboard restored alone gets them all (8 × 4 = 32: a 26-tile dashboard's tiles and filters
    # in one round; 4 is 5-7% faster than 3 latency-bound and costs no more CPU per item);
    # 1 sends them one after another.
    fanout: int = Field(4, ge=1, le=4)
    # While the destination answers at once, no fan-out, and while this process also keeps its
    # core busy (one GIL), fewer items at once: more threads would only add hand-overs
    # (`restore.engine.limits.cpu_load`). Off: always as many as `workers` and `fanout` say.
    fit_to_cpu: bool = True
    # None: no ceiling, the limiter finds what the destination takes (restore.engine.limits.rate_limiter).
    rate_limit_per_second: float | None = Field(None, gt=0)
    rate_limit_per_minute: float | None = Field(None, gt=0)
    checkpoint_interval: int = Field(100, ge=1, le=100_000)
    max_retries: int = Field(5, ge=0, le=50)
    dry_run: bool = False
    skip_if_modified: bool = False
    with_dependencies: bool = False
    verify: bool = False
    fallback_owner_email: str | None = None
    # The registered destination the backup came from (`--source NAME`, the form's "Source
    # instance (read only)"): only immutable objects the backup lacks are read from it (queries,
    # merge queries by ID), never written (`restore.engine.looker.source`). Kept by resume and
    # DLQ retries, which run with their session's options.
    source_destination_id: int | None = None
    # Is the destination the instance the backup came from? "auto": decided at the start from a
    # sample of IDs and their immutable fields; "same" / "other": the user's override
    # (--same-instance / --other-instance), recorded with the sample's evidence.
    instance: Literal["auto", "same", "other"] = "auto"
    # Rollback: undo even objects someone changed in the destination since the restore wrote them
    # (without it such a rollback is refused before its first write, listing them).
    confirm_changed: bool = False
    # Applying a saved plan: only the items that dry run would create or update, after checking
    # the destination still holds what it saw (`restore.engine.kinds.apply`).
    plan_session_id: int | None = None
    # A retry session: exactly the dead-letter items it claimed (`restore.engine.kinds.retry`).
    dlq_item_ids: list[int] = Field(default_factory=list)
    # The selection filters (content types, IDs, search, owner, folder, dates, include_deleted);
    # validated by the backup reader's Selection model.
    selection: dict[str, Any] = Field(default_factory=dict)

    @property
    def fanout_budget(self) -> int:
        """Sub-requests in flight at once for the whole session (see `restore.engine.item.fanout`)."""
        return self.workers * self.fanout if self.fanout > 1 else 1

    @property
    def max_in_flight(self) -> int:
        """Requests the session can have open at once: one per worker plus the fan-out's."""
        return self.workers + self.fanout_budget
