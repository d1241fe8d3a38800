"""The restore kind: a backup's selected items into the destination, type after type.

Its options make it a plan (`dry_run`: nothing written, what would be done recorded) or the
applying of a saved plan (`plan_session_id`: exactly the plan's items, after checking that the
destination still holds what the plan saw, see `apply.py`).

- Levels: types in RESTORE_ORDER; a level starts when the previous one is finished. Inside a level
  items stream from the backup (folders, which refer to each other, are ordered parents first).
- A second pass at the end gives the items whose references to later types were deferred (a
  user's groups and roles, a cycle member's parent) those references.
- A resumed plan takes back what it mapped in memory from its result rows (`resume_plan`).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from django.db import transaction

from restore.engine.backup.order import SELF_REFERENCES, ordered_items
from restore.engine.backup.reader import BackupError, Selection, open_backup
from restore.engine.core import documents, row_sql
from restore.engine.core.content_types import NOT_RESTORABLE, RESTORE_ORDER, ContentType
from restore.engine.item.context import ItemOutcome, RestoreContext
from restore.engine.item.paged import DestinationPages
from restore.engine.item.restore import restore_item
from restore.engine.kinds import apply as apply_plan
from restore.engine.limits.rate_limiter import AdaptiveRateLimiter
from restore.engine.run import dlq
from restore.engine.run.kind import Level, SessionKind
from restore.engine.run.runner import Again, open_session_context, record_dependency
from restore.engine.run.session import open_context, selection_of
from restore.models import RestoreItemResult, RestoreSession

log = logging.getLogger(__name__)

LEVELS = (*RESTORE_ORDER, *NOT_RESTORABLE)
RANK = {ct: n for n, ct in enumerate(LEVELS)}


def rank(content_type: int) -> int:
    """An item's place in the restore order (types the engine does not know: last)."""
    return RANK.get(ContentType(content_type), len(RANK))


class RestoreKind(SessionKind):
    name = RestoreSession.Kind.RESTORE

    def __init__(self, session: RestoreSession) -> None:
        super().__init__(session)
        self.reader: Any = None
        self.planned: dict[int, set[str]] | None = None  # applying a saved plan: its items

    def refusal(self) -> str:
        return self.session.backup.restore_refusal()

    def open(self, stack: contextlib.ExitStack) -> None:
        self.reader = stack.enter_context(open_backup(self.session.backup.path))

    def open_for_retry(self, stack: contextlib.ExitStack) -> None:
        self.reader = stack.enter_context(session_backup(self.session))

    def totals(self) -> dict[str, int]:
        selection = selection_of(self.session.options)
        totals = {}
        for ct in selection.types():
            sel = selection.model_copy(update={"content_types": [ct]})
            n = self.reader.count(sel)
            if n:
                totals[ct.slug] = n
        return totals

    def retry_context(self, client: Any, limiter: AdaptiveRateLimiter) -> RestoreContext:
        """Log in (and read GET /versions); a dry run takes back what its plan mapped."""
        session, reader = self.session, self.reader
        ctx = open_session_context(
            session, client, limiter, lambda c: open_context(session, reader, c)
        )
        if session.dry_run:
            resume_plan(ctx, session)
        return ctx

    def open_context(self, client: Any, limiter: AdaptiveRateLimiter) -> RestoreContext:
        """The session's context; types with many items selected read the destination in pages
        for "unchanged" detection (`item.paged`; a retry of a few items reads them alone)."""
        ctx = self.retry_context(client, limiter)
        ctx.first_pass = True
        ctx.on_dependency = partial(record_dependency, self.session)
        selected = {ContentType.parse(slug): n for slug, n in self.totals().items()}
        ctx.pages = DestinationPages(selected, self.reader)
        return ctx

    def start(self, ctx: RestoreContext, should_stop: Callable[[], bool]) -> None:
        """Applying a saved plan: check (before the first write) that the destination still
        holds what the plan saw."""
        config = self.session.options
        if config.plan_session_id is None:
            return
        plan = RestoreSession.objects.get(pk=config.plan_session_id)
        if not self.session.results.exists():
            apply_plan.check_destination(ctx, plan, should_stop)
        self.planned = apply_plan.planned_keys(plan)

    def levels(self, ctx: RestoreContext, should_stop: Callable[[], bool]) -> Iterator[Level]:
        selection = selection_of(self.session.options)
        for ct in [t for t in LEVELS if t in selection.types()]:
            yield Level(self.level_items(ctx, ct), content_type=ct)
        if should_stop():
            return
        ctx.first_pass = False
        yield from self._second_pass(should_stop)

    def level_items(self, ctx: RestoreContext, ct: ContentType) -> Iterable[Any]:
        items = level_items(ctx, self.reader, selection_of(self.session.options), ct)
        config = self.session.options
        if config.plan_session_id is not None:
            if self.planned is None:  # a chunk task of a distributed run: the coordinator's filter
                plan = RestoreSession.objects.get(pk=config.plan_session_id)
                self.planned = apply_plan.planned_keys(plan)
            items = apply_plan.only_planned(items, self.planned, ct)
        return items

    def item(self, ct: ContentType, source_id: str) -> Any:
        return self.reader.get_item(ct, source_id)

    def process(self, ctx: RestoreContext, item: Any) -> ItemOutcome:
        if isinstance(item, Again):
            return restore_item(ctx, item.item, again=True)
        return restore_item(ctx, item)

    def retry_item(self, dead: Any) -> Any:
        return dlq.DlqSourceItem(dead)

    def _second_pass(self, should_stop: Callable[[], bool]) -> Iterator[Level]:
        """Items whose references to later types were deferred get them now (and say so).

        In parallel like a level: every object exists by now, so the second-pass writes (a user's
        groups and roles, a cycle member's parent) do not depend on each other. A pass stopped
        part-way stays to do: the resume runs it again (an item done already writes nothing)."""
        rows = self.session.results.filter(diff__has_key="deferred")
        deferred = {
            (ct, sid): documents.read_diff(diff).deferred or []
            for ct, sid, diff in rows.values_list("content_type", "source_id", "diff")
        }
        keys = sorted(deferred, key=lambda k: (RANK.get(ContentType(k[0]), 99), k[1]))
        items = (self.reader.get_item(ContentType(ct), sid) for ct, sid in keys)
        yield Level((i for i in items if i is not None), again=True)
        if should_stop():
            return
        mark_second_pass(self.session, deferred)


# Rows marked per query and per transaction: one commit per batch rather than per item, short
# enough that the write lock is never held long.
MARK_BATCH = 500


def mark_second_pass(session: RestoreSession, deferred: dict[tuple[int, str], list[str]]) -> None:
    """Say on each deferred item's row what the second pass gave it. The rows are read again
    (the second pass rewrote their diffs) and written by primary key, a batch per query and per
    transaction, rather than a lookup, a model load, an UPDATE and a commit per item, one after
    another in the session's own thread at the end of the run."""
    keys = list(deferred)
    for start in range(0, len(keys), MARK_BATCH):
        batch = keys[start : start + MARK_BATCH]
        rows = list(
            session.results.filter(
                content_type__in={ct for ct, _ in batch}, source_id__in={sid for _, sid in batch}
            ).values_list("pk", "content_type", "source_id", "diff")
        )
        with transaction.atomic():
            for pk, ct, sid, raw in rows:
                what = deferred.get((ct, sid))
                if what is None:
                    continue
                diff = documents.read_diff(raw) or documents.Diff()
                diff.deferred, diff.second_pass = None, list(what)
                row_sql.update(RestoreItemResult, pk, {"diff": documents.store(diff)})


def level_items(
    ctx: RestoreContext, reader: Any, selection: Selection, ct: ContentType
) -> Iterator[Any]:
    """A level's items: streamed, except types that refer to themselves (parents first)."""
    sel = selection.model_copy(update={"content_types": [ct]})
    if ct not in SELF_REFERENCES:
        yield from reader.iter_items(sel)
        return
    ordered, cyclic = ordered_items(reader, ct, sel)
    ctx.cycle_members |= {(ct, i) for i in cyclic}
    yield from ordered


NEW_ID = re.compile(r"^\(new (\d+)\)$")


def resume_plan(ctx: RestoreContext, session: RestoreSession) -> None:
    """A dry run keeps what its plan maps in memory only; a resumed one takes it back from its
    result rows, so later items resolve exactly as in an uninterrupted plan."""
    rows = session.results.exclude(destination_id="").values_list(
        "content_type", "source_id", "destination_id", "action"
    )
    last = 0
    for ct, sid, did, action in rows.iterator(chunk_size=2000):
        ctx.idmap.record(ContentType(ct), sid, did)
        if match := NEW_ID.match(did):
            last = max(last, int(match.group(1)))
        if action == "created" and ct == int(ContentType.FOLDER):
            ctx.fresh_folders.add(did)
    ctx._fake_ids = itertools.count(last + 1)


class session_backup:
    """The original's backup (for --with-dependencies) when its file is still the one verified,
    else None: a dead letter carries its own content, but a dependency is never read from a file
    that is unverified or changed since (`Backup.restore_refusal`)."""

    def __init__(self, session: RestoreSession) -> None:
        self.session = session
        self.reader = None
        self.refusal = ""

    def __enter__(self):
        backup = self.session.backup
        if backup is None or not Path(backup.path).is_file():
            return None
        self.refusal = backup.restore_refusal()
        if self.refusal:
            log.warning("retry of session %s without its backup: %s", self.session.pk, self.refusal)
            return None
        try:
            self.reader = open_backup(backup.path)
        except BackupError:
            self.reader = None
        return self.reader

    def __exit__(self, *exc: Any) -> None:
        if self.reader is not None:
            self.reader.close()
