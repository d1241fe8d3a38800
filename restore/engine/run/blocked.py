"""Blocked items grouped by why, with what unblocks them and how many items wait on them.

A migration of a lookervault backup can leave dozens of items blocked for one reason (looks whose
query the backup holds nowhere) and as many again waiting on those (dashboards showing them, boards,
schedules). Listed one by one that reads as chaos; grouped it reads as one decision:
"6 looks need their query: it is not in this backup; name the source instance to read it — 1 more
item waits on them". Built from the session's result rows and the engine's stable blocked phrases.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from restore.engine.core import documents
from restore.engine.core.content_types import ContentType
from restore.engine.core.words import plural
from restore.engine.item.queries import NOT_IN_BACKUP

SOURCE = re.compile(
    r"the source instance (.+?) (has none \(404\)|is unreachable|is not registered"
    r"|does not hold this backup's objects)(?:: (\d+ of \d+ sampled match))?"
)
REFERENCE = re.compile(r"\b(look|dashboard) (\d+)\b")
SOURCE_WORDS = {
    "has none (404)": "does not have (404)",
    "is unreachable": "could not be reached; check it, then re-run the failed items",
    "is not registered": "is no longer registered; register it, then re-run the failed items",
    "does not hold this backup's objects": "would give, but it does not hold this backup's "
    "objects ({sampled}): name the instance the backup came from",
}


UNBLOCK = "name the source instance to read it"
# key -> (verb, what follows it, naming the source unblocks it)
PHRASES = {
    "look query": ("need", f"their query: it is not in this backup; {UNBLOCK}", True),
    "tile query": (
        "have",
        f"tiles that need their query: it is not in this backup; {UNBLOCK}",
        True,
    ),
    "merge": ("show", f"merged results: their merge query is not in this backup; {UNBLOCK}", True),
}


def reason_of(ct: ContentType, message: str) -> tuple[str, str, str, bool] | None:
    """(key, verb, rest, naming the source unblocks it) of a blocked message, or None."""
    if found := SOURCE.search(message):
        name, state, sampled = found.groups()
        words = SOURCE_WORDS[state].format(sampled=sampled or "none sampled match")
        rest = f"what the source instance {name} {words}"
        return f"source {name} {state}", "need", rest, state.startswith("does not hold")
    if "left out: merge query" in message and "not in this backup" in message:
        key = "merge"
    elif NOT_IN_BACKUP in message:
        key = "look query" if ct == ContentType.LOOK else "tile query"
    else:
        return None
    verb, rest, needs = PHRASES[key]
    return key, verb, rest, needs


def blocked_reasons(session: Any) -> list[documents.BlockedReason]:
    """The session's blocked items by reason, most items first."""
    rows = list(
        session.results.filter(action="blocked").values_list("content_type", "source_id", "message")
    )
    reason: dict[tuple[str, str], str] = {}
    sentences: dict[str, tuple[str, str, bool]] = {}
    counts: Counter[tuple[str, str]] = Counter()  # (key, type slug) -> items
    waiting: Counter[str] = Counter()
    rest = []
    for ct_value, sid, message in rows:
        ct = ContentType(ct_value)
        found = reason_of(ct, message or "")
        if found is None:
            rest.append((ct, sid, message or ""))
            continue
        key, verb, words, needs = found
        reason[(ct.slug, sid)] = key
        sentences[key] = (verb, words, needs)
        counts[(key, ct.slug)] += 1
    for _ in range(3):  # a board waits on a dashboard that waits on a look
        still = []
        for ct, sid, message in rest:
            hits = [reason[ref] for ref in REFERENCE.findall(message) if ref in reason]
            if hits:
                reason[(ct.slug, sid)] = hits[0]
                waiting[hits[0]] += 1
            else:
                still.append((ct, sid, message))
        rest = still
    return sorted(
        (_reason(key, sentences[key], counts, waiting[key]) for key in sentences),
        key=lambda r: -(r.items + r.waiting),
    )


def _reason(
    key: str, sentence: tuple[str, str, bool], counts: Counter[tuple[str, str]], waiting: int
) -> documents.BlockedReason:
    verb, rest, needs = sentence
    by_type = {slug: n for (k, slug), n in counts.items() if k == key}
    items = sum(by_type.values())
    if len(by_type) == 1:
        ((slug, n),) = by_type.items()
        what = plural(n, slug.replace("_", " "))
    else:
        what = plural(items, "item")
    if items == 1:
        verb = "has" if verb == "have" else verb + "s"
        rest = rest.replace("their ", "its ", 1)
    line = f"{what} {verb} {rest}"
    if waiting:
        line += f" — {plural(waiting, 'more item')} {'waits' if waiting == 1 else 'wait'} on them"
    return documents.BlockedReason(text=line, items=items, waiting=waiting, needs_source=needs)
