"""Which destination object is a backup item's counterpart: where identity is decided per item.

In order, each step only on evidence (`identity`):
1. a trusted ID-map entry (its object still shows the immutable fields recorded with it);
2. the same ID, when its immutable fields match the backup's, or — for types that have none —
   when the session decided this is the instance the backup came from;
3. the natural key (email, name in parent, title in folder…), unless the object found is proven
   to be another backup item's counterpart, is claimed by another item in this session, or (same
   instance, content with titles that need not be unique) contradicts the item's own evidence.
   A title match never overrides an ID match: step 3 runs only when 1 and 2 found nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from restore.engine.core.config import RestoreConfig
from restore.engine.core.content_types import API_PATHS, ContentType
from restore.engine.core.errors import LookerApiError
from restore.engine.identity.evidence import (
    EVIDENCE_FIELDS,
    SAME_RATIO,
    WITHOUT_EVIDENCE,
    InstanceCheck,
    check_instance,
    evidence,
    same_object,
    sample_items,
    verdict,
)
from restore.engine.identity.idmap import IdMap
from restore.engine.limits.retries import call_with_retries
from restore.engine.looker.client import LookerClient
from restore.engine.looker.source import SourceInstance

CT = ContentType
Body = dict[str, Any]


class Lookups(Protocol):
    """What deciding identity reads of a restore's context (`item.context.RestoreContext`).

    Declared here so that identity depends on no layer above it."""

    client: LookerClient
    idmap: IdMap
    config: RestoreConfig
    same_instance: bool
    ids_may_match: frozenset[str] | None
    source: Any

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any: ...

    def attempted_before(self, ct: Any, source_id: str) -> bool: ...


# Titles are not unique: on the instance the backup came from, a look or dashboard found by title
# whose immutable fields say it is another object is not adopted (it is someone's copy).
TITLED = frozenset({CT.LOOK, CT.DASHBOARD, CT.BOARD, CT.SCHEDULED_PLAN})


def object_path(ct: ContentType, dest_id: str) -> str:
    return f"{API_PATHS[ct]}/{LookerClient.quote(dest_id)}"


def light_fields(ct: ContentType) -> str:
    return EVIDENCE_FIELDS.get(ct, "id,name")


# -- what an ID-map entry records -----------------------------------------------------------------
def recorded_evidence(ct: ContentType, obj: Body | None) -> dict[str, Any] | None:
    """What to keep with an entry: the immutable fields, or the name for types without any."""
    if not obj:
        return None
    if ct in WITHOUT_EVIDENCE:
        return {"name": obj.get("name")} if obj.get("name") is not None else None
    return evidence(ct, obj) or None


def entry_holds(
    ct: ContentType, backup: Body | None, found: Body | None, recorded: dict[str, Any] | None
) -> bool:
    """Does the destination object an entry points at still match it?"""
    if found is None:
        return False
    if ct in WITHOUT_EVIDENCE:
        if not recorded:
            return True
        names = {recorded.get("name"), (backup or {}).get("name")} - {None}
        return found.get("name") in names
    if recorded:
        return verdict(recorded, evidence(ct, found)) is not False
    return True


def verify_entry(
    ctx: Lookups, ct: ContentType, sid: str, dest_id: str, recorded: dict[str, Any] | None
) -> bool:
    """The ID map's verifier: one light GET (cached per session) of the object it points at."""
    if str(dest_id).startswith("("):
        return True  # a dry run's stand-in
    found = fetch_light(ctx, ct, dest_id)
    backup = _backup_content(ctx, ct, sid) if ct in WITHOUT_EVIDENCE else None
    return entry_holds(ct, backup, found, recorded)


def fetch_light(ctx: Lookups, ct: ContentType, dest_id: str) -> Body | None:
    return ctx.cached(
        ("light", ct, str(dest_id)),
        lambda: ctx.client.get_or_none(object_path(ct, dest_id), {"fields": light_fields(ct)}),
    )


def _backup_content(ctx: Lookups, ct: ContentType, sid: str) -> Body | None:
    if ctx.source is None:
        return None
    item = ctx.source.get_item(ct, sid)
    if item is None or getattr(item, "error", None):
        return None
    return item.content


# -- same object by ID ----------------------------------------------------------------------------
def is_same(ctx: Lookups, ct: ContentType, content: Body, found: Body | None) -> bool:
    """Is `found` (the destination object under the backup item's own ID) that item?"""
    if found is None:
        return False
    decided = same_object(ct, content, found)
    if decided is None:
        return ctx.same_instance
    return decided


def may_hold_same_id(ctx: Lookups, ct: ContentType) -> bool:
    """Worth a GET under the backup's own ID? On the same instance always; on another one only
    for types with immutable fields of which the session's sample found an object under its own
    ID (a migration into a fresh instance saves a request per item)."""
    if ctx.same_instance or ct == CT.LOOKML_MODEL:
        return True
    if ct in WITHOUT_EVIDENCE:
        return False
    return ctx.ids_may_match is None or ct.slug in ctx.ids_may_match


def proven_same_id(ctx: Lookups, ct: ContentType, sid: str) -> bool:
    """A reference's target: does the destination hold the backup's object under the same ID?
    (light GET, cached.) Used where no ID-map entry exists."""
    if not may_hold_same_id(ctx, ct):
        return False
    found = fetch_light(ctx, ct, sid)
    if found is None:
        return False
    content = _backup_content(ctx, ct, sid)
    if content is None:
        return ctx.same_instance  # the backup does not hold it: only the session's decision
    return is_same(ctx, ct, content, found)


# -- natural-key hits -----------------------------------------------------------------------------
def acceptable_hit(
    ctx: Lookups, ct: ContentType, sid: str, content: Body, hit: Body, key_field: str
) -> bool:
    """May the object found by natural key be this item's counterpart?"""
    dest_id = str(hit.get(key_field))
    if ctx.idmap.claimed_by_other(ct, dest_id, sid):
        return False
    if dest_id != sid and _belongs_to_other_item(ctx, ct, dest_id, hit):
        return False
    if ctx.same_instance and ct in TITLED and same_object(ct, content, hit) is False:
        # someone's copy with the same title; our own earlier create (a lost response) is adopted
        return ctx.attempted_before(ct, sid)
    return True


def _belongs_to_other_item(ctx: Lookups, ct: ContentType, dest_id: str, hit: Body) -> bool:
    """The backup holds another item under the hit's ID and the hit is that item's object."""
    other = _backup_content(ctx, ct, dest_id)
    return other is not None and is_same(ctx, ct, other, hit)


# -- the instance-level decision ------------------------------------------------------------------
def decide_instance(ctx: Lookups, reader: Any, choice: str) -> InstanceCheck:
    """Sample the destination (unless the user chose), for `ctx.same_instance`."""
    check = InstanceCheck()
    if reader is not None:
        threads = max(1, min(16, ctx.config.max_in_flight))
        fetch = partial(_sample_fetch, ctx)
        check = check_instance(fetch, sample_items(reader), threads=threads)
    if choice in ("same", "other"):
        check.decided_by = "user"
        check.same_instance = choice == "same"
    return check


def _sample_fetch(ctx: Lookups, ct: ContentType, sid: str, fields: str) -> Body | None:
    """One sampled ID, retried like any request; an answer that never comes proves nothing either
    way ({}: counted as undecided), so a flaky destination does not fail the session's start."""
    get = partial(ctx.client.get_or_none, object_path(ct, sid), {"fields": fields})
    try:
        return call_with_retries(get, max_retries=ctx.config.max_retries)
    except LookerApiError:
        return {}


# -- the source instance --------------------------------------------------------------------------
SOURCE_SAMPLE = 20  # backup items read on the source instance, once per session


def check_source(source: SourceInstance, reader: Any, threads: int) -> dict[str, Any]:
    """Is the source instance the user named the one the backup came from? A sample of backup
    items read there by ID, immutable fields compared. Proven when some match and nearly all that
    exist match: objects deleted there since the backup prove nothing either way, but an ID that
    holds another object means another instance, whose queries under the same IDs are others."""
    samples = sample_items(reader, SOURCE_SAMPLE) if reader is not None else []

    def fetch(ct: ContentType, sid: str, fields: str) -> Body | None:
        return source.light(object_path(ct, sid), fields)

    check = check_instance(fetch, samples, threads=threads)
    answered = check.sampled - check.undecided  # every sampled item has evidence: {} = no answer
    proven = check.same > 0 and check.same >= SAME_RATIO * (check.same + check.other)
    found = f"{check.same} of {check.sampled} sampled match"
    if check.other:
        found += f", {check.other} hold other objects"
    held = "holds" if proven else "does not hold"
    return {
        "name": source.name,
        "proven": proven,
        "sampled": check.sampled,
        "same": check.same,
        "other": check.other,
        "missing": check.missing,
        "undecided": check.undecided,
        "answered": answered > 0,
        "refusal": "" if proven else f"does not hold this backup's objects: {found}",
        "summary": f"source {source.name} {held} this backup's objects: {found}"
        + ("" if proven else "; nothing is read from it"),
    }
