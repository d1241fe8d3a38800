"""What one session wrote to one destination object, over every attempt at it.

An item may be attempted several times in one session: the runner retries it after a transient
error, a second pass finishes it, a DLQ retry runs it again. Each attempt starts from what the
last one left, so its own view ("the object exists: update it", "the state before my writes") is
not the session's. The item's result row keeps the session's view, which is what a rollback
undoes: every write made (all attempts' changes), the object as it was before the first write
(the pre-image of the first attempt that wrote), and whether the session created it. An object
the session created stays created, whatever a later attempt found; an object nothing was written
to has no pre-image, so a rollback never "puts back" (over the user's later edits) what the
restore never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from restore.engine.core import documents
from restore.engine.core.content_types import ContentType
from restore.engine.item.restorers import RESTORERS

Body = dict[str, Any]

# The result row's columns `over_attempts` reads.
ROW_COLUMNS = ("action", "destination_id", "diff", "pre_image")
# The result row's key (its unique constraint): an INSERT that finds it keeps the row there.
RESULT_KEY = ["session", "content_type", "source_id"]


@dataclass(frozen=True)
class Written:
    changes: list[documents.Change]  # every write, the earlier attempts' first
    pre_image: Body | None  # before the first write; None when created, or nothing was written
    created: bool  # the session created the object (its POST, or its pending create intent)

    def diff(self, verify: dict[str, Any] | None = None, deferred: list[str] | None = None) -> Any:
        """The row's diff column, with the second pass this attempt left to do (`deferred`)."""
        if not (self.changes or verify or deferred):
            return None
        diff = documents.Diff(changes=self.changes, verify=verify, deferred=deferred or None)
        return documents.store(diff)


def posted(ct: ContentType, changes: list[documents.Change]) -> bool:
    """Whether the changes hold the POST that created the object itself (not a sub-resource).
    A type the API does not write (explores) has none."""
    restorer = RESTORERS.get(ct)
    if restorer is None or not changes:
        return False
    return any(c.method == "POST" and c.path == restorer.path for c in changes)


def over_attempts(
    ct: ContentType,
    row: dict[str, Any] | None,
    dest_id: str,
    changes: list[documents.Change],
    pre_image: Body | None,
) -> Written:
    """This attempt's writes and pre-image added to what the row (`ROW_COLUMNS`) recorded.

    The row counts only when it is about the same object (no destination yet, or this one): an
    object deleted since and found elsewhere starts afresh."""
    same = row is not None and row["destination_id"] in ("", None, dest_id)
    earlier = documents.read_diff(row["diff"]) if same and row else None
    every = [*(earlier.changes if earlier else []), *changes]
    pending = same and row is not None and row["action"] == "pending"
    created = pending or posted(ct, every)
    if created or not every:
        before = None
    elif same and row is not None and row["pre_image"] is not None:
        before = row["pre_image"]
    else:
        before = pre_image
    return Written(every, before, created)
