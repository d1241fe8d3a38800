"""The session page's "blocked, and what unblocks it" card, with the source picker right there."""

from __future__ import annotations

from typing import Any

from restore.engine import read_summary
from restore.forms import form_data_from_config
from restore.models import Destination, RestoreSession


def blocked_context(session: RestoreSession) -> dict[str, Any]:
    """The blocked reasons of a finished session; when naming the source instance would unblock
    some, the restore form's fields of this session (to plan again with a source picked)."""
    doc = read_summary(session.summary)
    reasons = list(getattr(doc, "blocked_reasons", None) or []) if doc is not None else []
    if not reasons or session.kind != RestoreSession.Kind.RESTORE:
        return {"blocked_reasons": reasons}
    repeat = []
    if any(r.needs_source for r in reasons):
        data = form_data_from_config(session)
        data.pop("source", None)
        for key, value in data.items():
            values = value if isinstance(value, list) else [value]
            repeat += [(key, v) for v in values]
    return {
        "blocked_reasons": reasons,
        "repeat_fields": repeat,
        "source_choices": Destination.objects.order_by("name") if repeat else [],
    }
