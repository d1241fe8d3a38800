"""What a session kind tells the runner: the one interface every kind module implements.

The runner (`runner.SessionRunner`, `distributed.DistributedSessionRunner`) owns what every
session shares: the lease, the heartbeat, cancel, checkpoints, progress, the retries and the DLQ of
one item. It never asks what kind a session is; it asks the session's kind (a `SessionKind`, picked
by `restore.engine.kinds.kind_for`) these few things, in this order:

1. `refusal()`        why the session must not run at all ("" when it may), before anything else;
2. `open(stack)`      hold what the run reads for its whole length (a backup reader) on `stack`;
3. `totals()`         its items per type: the progress bars, their sum the session's total;
4. `open_context()`   log in (through the limiter, with retries) and build the RestoreContext;
5. `start()`          the check before its first write (a resumed session that wrote is past it);
6. `levels()`         what its items are, as `Level`s the runner runs one after another; an
                      item goes through `ItemRunner.run` (retries, result row, DLQ), which calls
                      `process(ctx, item)`; an item of an `in_order` level through `run_item`;
7. `finish(status)`   what the kind does once the session's final status is written.

A retry session runs dead-letter items of another session through that session's kind
(`open_for_retry`, `retry_context`, `retry_item`, `process`). A distributed run asks a kind with
typed levels for them again in its chunk tasks (`open`, `open_context`, `level_items`, `item`).

A new kind (say a read-only comparison) is one module under `kinds/` with a `SessionKind`
subclass, and one line in `kinds.KINDS`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from restore.engine.core.content_types import ContentType
from restore.engine.item.context import ItemOutcome, RestoreContext
from restore.engine.limits.rate_limiter import AdaptiveRateLimiter
from restore.models import RestoreSession

if TYPE_CHECKING:
    from restore.engine.run.runner import ItemRunner


@dataclass
class Level:
    """Items the runner runs together before it goes on to the next level.

    - `content_type` set: one type's items, in parallel (`workers`), each waiting for the item it
      refers to; items with a final result row are skipped (resume), the level is checkpointed
      (`RestoreCheckpoint`) and a finished level is skipped on resume; a distributed run splits it
      into chunk tasks (`SessionKind.level_items` / `item` read them again there).
    - `in_order`: steps of several types one after another in this thread, exactly in the order
      given; the kind leaves out the steps done already.
    - neither: items of several types in parallel, with no order among them (`again`: the second
      pass of items restored already).
    """

    items: Iterable[Any]
    content_type: ContentType | None = None
    in_order: bool = False
    again: bool = False


class SessionKind:
    """One kind of session. Subclasses override what differs; the defaults are those of a kind
    whose items each go through `ItemRunner.run` (retries, result row, DLQ)."""

    name: ClassVar[str]  # the RestoreSession.Kind it runs

    def __init__(self, session: RestoreSession) -> None:
        self.session = session

    def refusal(self) -> str:
        """Why this session must not run ("" when it may): the session fails with it."""
        return ""

    def open(self, stack: contextlib.ExitStack) -> None:
        """Take what the whole run reads (a backup reader), closed by `stack` at the end."""

    def totals(self) -> dict[str, int]:
        """Items per type slug (progress bars); their sum is the session's total."""
        raise NotImplementedError

    def open_context(self, client: Any, limiter: AdaptiveRateLimiter) -> RestoreContext:
        """The logged-in context the session's items run in (`runner.open_session_context`)."""
        raise NotImplementedError

    def open_for_retry(self, stack: contextlib.ExitStack) -> None:
        """Take what a retry of this session's dead-letter items reads (`open`, but lenient: a
        retry never reads from a backup that is not the one verified)."""

    def retry_context(self, client: Any, limiter: AdaptiveRateLimiter) -> RestoreContext:
        """The context a dead-letter item of this session runs again in (a retry session)."""
        return self.open_context(client, limiter)

    def start(self, ctx: RestoreContext, should_stop: Callable[[], bool]) -> None:
        """Before the first item: the check before the first write (refuse by raising
        RestoreError); a resumed session that has written already skips it."""

    def levels(self, ctx: RestoreContext, should_stop: Callable[[], bool]) -> Iterator[Level]:
        """What its items are, level after level. Code after a `yield` runs once the runner
        has finished that level (or stopped)."""
        raise NotImplementedError

    def level_items(self, ctx: RestoreContext, ct: ContentType) -> Iterable[Any]:
        """A typed level's items again, in a chunk task of a distributed run (whole level)."""
        raise NotImplementedError(f"a {self.name} session does not run in chunks")

    def item(self, ct: ContentType, source_id: str) -> Any:
        """One item of a typed level by its key, in a chunk task of a distributed run (None:
        not in the session any more)."""
        raise NotImplementedError(f"a {self.name} session does not run in chunks")

    def process(self, ctx: RestoreContext, item: Any) -> ItemOutcome:
        """What one item does; raises on failure (the runner retries it, or dead-letters it)."""
        raise NotImplementedError

    def run_item(self, items: ItemRunner, item: Any) -> None:
        """Run one item of an `in_order` level (a kind with its own bookkeeping overrides it)."""
        items.run(item)

    def retry_item(self, dead: Any) -> Any:
        """What a dead-letter item of this session runs again (`process` takes it)."""
        raise NotImplementedError(f"a {self.name} session has no dead-letter items to retry")

    def finish(self, status: str) -> None:
        """After the session's final status is written (before its summary)."""


KindFor = Callable[[RestoreSession], SessionKind]
