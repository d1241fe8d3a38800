"""The `drift` session kind: what changed in the destination since the backup. Writes nothing.

Run by the one runner like any kind (lease, heartbeat, progress, cancel, resume): a level per type
of the backup's items, each compared with the destination (`identity.drift`), then one level of
the objects created since. Each type is read from the destination in pages before its level runs;
an item of a level the runner runs elsewhere (a chunk task) falls back to one GET.

Writes nothing in Looker: the context is a dry run's, its client's transport refuses every request
but GETs and its own login/logout (`LookerClient.set_read_only`, whatever path a write takes: `.post`,
`.sdk`, `.transport`), `ReadOnlyClient` refuses the JSON verbs by name, and no step here asks for one. Results: changed since = "updated", deleted
since = "skipped", created since = "created" (`identity.drift.ACTION_OF`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from restore.engine.backup.reader import BackupReader, Selection, open_backup
from restore.engine.core.config import RestoreConfig
from restore.engine.core.content_types import ContentType
from restore.engine.core.documents import read_diff
from restore.engine.core.errors import RestoreError
from restore.engine.identity.counterpart import object_path
from restore.engine.identity.drift import (
    ACTION_OF,
    CHANGED,
    CREATED,
    DELETED,
    FINDING_OF,
    UNCHANGED,
    CreatedItem,
    DestinationIndex,
    Finding,
    ReadOnlyClient,
    compare_item,
    created_items,
    created_since,
    drift_types,
    outcome_changes,
    page_fields,
    same_instance,
    sample_contents,
)
from restore.engine.identity.idmap import IdMap
from restore.engine.item.context import ItemOutcome, RestoreContext
from restore.engine.limits.retries import RetryingClient, call_with_retries
from restore.engine.looker.client import LookerClient
from restore.engine.run.kind import Level, SessionKind
from restore.models import RestoreSession


class DriftKind(SessionKind):
    """A drift check of a whole backup (or the types its selection names)."""

    name = RestoreSession.Kind.DRIFT

    def refusal(self) -> str:
        backup = self.session.backup
        return "a drift check needs a backup" if backup is None else backup.restore_refusal()

    def open(self, stack: contextlib.ExitStack) -> None:
        self.reader: BackupReader = stack.enter_context(open_backup(self.session.backup.path))
        wanted = self.session.options.selection.get("content_types") or []
        self.types = drift_types(self.reader, [ContentType(int(t)) for t in wanted])
        self.indexes: dict[ContentType, DestinationIndex] = {}

    def totals(self) -> dict[str, int]:
        held = self.reader.counts(include_deleted=False)
        return {ct.slug: held.get(ct, 0) for ct in self.types}

    def open_context(self, client: Any, limiter: Any) -> RestoreContext:
        config = self.session.options
        client = client or LookerClient.for_destination(
            self.session.destination, in_flight=config.max_in_flight
        )
        client.set_gate(limiter)
        client.set_read_only()
        call_with_retries(client.login, max_retries=config.max_retries)
        ctx = RestoreContext(
            client=ReadOnlyClient(client),
            idmap=IdMap(self.session.destination, persist=False),
            config=config,
            same_instance=False,
            session=self.session,
        )
        ctx.client = ReadOnlyClient(RetryingClient(client, config.max_retries, ctx.note_retry))
        # Identity of groups, roles… as a restore decides it: the instance, from a sample.
        ctx.same_instance = (
            config.instance == "same"
            if config.instance in ("same", "other")
            else same_instance(self.reader, ctx.client, self.types)
        )
        return ctx

    def levels(self, ctx: RestoreContext, should_stop: Callable[[], bool]) -> Iterator[Level]:
        created: list[CreatedItem] = []
        for ct in self.types:
            if should_stop():
                return
            index = DestinationIndex(
                ctx.client, ct, page_fields(ct, sample_contents(self.reader, ct))
            )
            self.indexes[ct] = index
            yield Level(self.level_items(ctx, ct), content_type=ct)
            ids = {item.id for item in self.reader.iter_items(Selection(content_types=[ct]))}
            replaced = self._replaced(ct, index)
            created += created_items(created_since(ct, index, ids, replaced), replaced)
            # Its items are done: the type's objects are no longer kept (an item run again later
            # reads its object alone, as a chunk task does).
            del self.indexes[ct], index
        done = set(
            self.session.results.filter(action=ACTION_OF[CREATED]).values_list(
                "content_type", "source_id"
            )
        )
        # One after another (each is one row, no request), the ones recorded already left out.
        yield Level([c for c in created if (int(c.content_type), c.id) not in done], in_order=True)

    def _replaced(self, ct: ContentType, index: DestinationIndex) -> set[str]:
        """Backup items found deleted although their ID exists: it holds another object."""
        gone = self.session.results.filter(
            content_type=int(ct), action=ACTION_OF[DELETED]
        ).values_list("source_id", flat=True)
        return {sid for sid in gone if sid in index.objects}

    def level_items(self, ctx: RestoreContext, ct: ContentType) -> Iterable[Any]:
        return self.reader.iter_items(Selection(content_types=[ct]))

    def item(self, ct: ContentType, source_id: str) -> Any:
        return self.reader.get_item(ct, source_id)

    def process(self, ctx: RestoreContext, item: Any) -> ItemOutcome:
        ct = ContentType(item.content_type)
        if isinstance(item, CreatedItem):
            return ItemOutcome(
                ACTION_OF[CREATED],
                ct,
                item.id,
                name=item.title,
                destination_id=item.destination_id,
                message="created since the backup (informational: never touched)",
            )
        content = item.content
        index = self.indexes.get(ct)
        if index is not None:
            current = index.get(item.id, content)
        else:  # a chunk task of a distributed run: no page read here
            current = ctx.client.get_or_none(object_path(ct, item.id))
        finding = compare_item(ct, item.id, content, current, ctx.same_instance)
        return ItemOutcome(
            ACTION_OF[finding.kind],
            ct,
            item.id,
            name=finding.title,
            destination_id=item.id if current is not None else "",
            message=finding.message,
            changes=outcome_changes(finding),
        )


# -- sessions -------------------------------------------------------------------------------------
def start_drift(backup: Any, destination: Any, *, user: Any = None, types: list[str] | None = None):
    """A pending drift session: the whole backup (or `types`) against the destination. It runs
    as a dry run would (`dry_run`: nothing is ever written) and is never applied."""
    if refusal := backup.restore_refusal():
        raise RestoreError(refusal)
    selection = {"content_types": [ContentType.parse(t).value for t in types]} if types else {}
    config = RestoreConfig(dry_run=True, workers=4, selection=selection)
    return RestoreSession.objects.create(
        kind=RestoreSession.Kind.DRIFT,
        backup=backup,
        destination=destination,
        source_instance=backup.source_instance,
        config=config.model_dump(mode="json"),
        dry_run=True,
        started_by=user,
    )


def drift_findings(session: Any) -> dict[str, list[Finding]]:
    """{"changed", "deleted", "created", "unchanged"}: a drift session's findings, from its
    result rows (`Finding.as_dict()`: entries as in `backups diff`)."""
    out: dict[str, list[Finding]] = {CHANGED: [], DELETED: [], CREATED: [], UNCHANGED: []}
    rows = session.results.order_by("content_type", "pk").values_list(
        "content_type", "source_id", "destination_id", "name", "action", "message", "diff"
    )
    for code, sid, did, name, action, message, diff in rows.iterator(chunk_size=500):
        kind = FINDING_OF.get(action)
        if kind is None:
            continue
        ct = ContentType(code)
        doc = read_diff(diff)
        changes = list(doc.changes) if doc else []
        out[kind].append(Finding(kind, ct, did if kind == CREATED else sid, name, changes, message))
    return out
