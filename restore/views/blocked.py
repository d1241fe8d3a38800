"""The session page's "blocked, and what unblocks it" card, with the source picker right there."""

from __future__ import annotations

from typing import Any

from restore.engine import read_summary
from restore.forms import form_data_from_config
from restore.models import Destination, RestoreSession


def blocked_context(session: RestoreSession) -> dict[str, Any]:
    """The source instance a session reads from; its blocked reasons once finished; when naming
    the source instance would unblock some, this session's restore form fields (to open the form
    again with a source picked)."""
    source_id = (session.config or {}).get("source_destination_id")
    source = Destination.objects.filter(pk=source_id).first() if source_id else None
    doc = read_summary(session.summary)
    reasons = list(getattr(doc, "blocked_reasons", None) or []) if doc is not None else []
    if not reasons or session.kind != RestoreSession.Kind.RESTORE:
        return {"blocked_reasons": reasons, "source_instance": source}
    repeat = []
    if any(r.needs_source for r in reasons):
        data = form_data_from_config(session)
        data.pop("source", None)
        for key, value in data.items():
            values = value if isinstance(value, list) else [value]
            repeat += [(key, v) for v in values]
    return {
        "source_instance": source,
        "blocked_reasons": reasons,
        "repeat_fields": repeat,
        "source_choices": Destination.objects.order_by("name") if repeat else [],
    }
