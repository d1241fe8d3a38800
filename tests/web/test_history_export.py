"""History a team lead can search and keep: one "kind" filter (plan, apply, restore, rollback,
preview, retry), search by who and by item, distinct badges for a plan and a restore, and an export
(CSV and JSON) of what the filter shows: who, kind, what, when, duration, outcome, counts."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from restore.engine.core.content_types import ContentType
from restore.models import RestoreItemResult, RestoreSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def kinds(session, support_user):
    """A restore (the `session` fixture), a plan, an apply of it, a rollback preview, a retry."""
    now = timezone.now()
    session.started_at, session.finished_at = now - timedelta(seconds=75), now
    session.save()
    RestoreItemResult.objects.create(
        session=session, content_type=ContentType.DASHBOARD, source_id="42", name="Revenue board",
        action="created",
    )  # fmt: skip

    def make(**fields) -> RestoreSession:
        fields.setdefault("status", RestoreSession.Status.COMPLETED)
        return RestoreSession.objects.create(
            backup=session.backup, destination=session.destination, **fields
        )

    plan = make(dry_run=True, started_by=support_user, total=2, created=2)
    apply = make(config={"plan_session_id": plan.pk}, started_by=support_user, total=2, created=2)
    preview = make(kind="rollback", dry_run=True, rollback_of=session)
    retry = make(kind="retry", retry_of=session)
    return {"restore": session, "plan": plan, "apply": apply, "preview": preview, "retry": retry}


def listed(page: str, sessions: dict) -> set[str]:
    return {
        name
        for name, s in sessions.items()
        if f'href="/sessions/{s.pk}/" class="kind-link"' in page
    }


def test_one_kind_filter_and_search_by_who_and_item(client, auditor_user, kinds):
    client.force_login(auditor_user)
    url = reverse("history")
    page = client.get(url).content.decode()
    assert "Dry runs" not in page  # one filter for one idea
    for kind in ("plan", "apply", "restore", "preview", "retry"):
        shown = listed(client.get(url, {"kind": kind}).content.decode(), kinds)
        assert shown == {kind}, (kind, shown)
    assert listed(client.get(url, {"user": "sa"}).content.decode(), kinds) == {"plan", "apply"}
    by_item = client.get(url, {"item": "revenue"}).content.decode()
    assert listed(by_item, kinds) == {"restore"}
    assert listed(client.get(url, {"item": "dashboard::42"}).content.decode(), kinds) == {"restore"}
    # A plan and a restore look different: own kind badge, "planned" in its own colour.
    assert '<span class="kind plan">Plan</span>' in page
    assert '<span class="kind restore">Restore</span>' in page
    assert '<span class="status planned">planned</span>' in page
    assert '<span class="status completed">completed</span>' in page


def test_history_exports_as_csv_and_json_with_the_filter(client, auditor_user, kinds, admin_user):
    client.force_login(auditor_user)
    page = client.get(reverse("history"), {"kind": "restore"}).content.decode()
    assert f'href="{reverse("history_csv")}?kind=restore"' in page
    response = client.get(reverse("history_csv"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert response["Content-Disposition"] == 'attachment; filename="history.csv"'
    assert {r["session_id"] for r in rows} == {str(s.pk) for s in kinds.values()}
    restore = next(r for r in rows if r["session_id"] == str(kinds["restore"].pk))
    assert restore["kind"] == "restore" and restore["who"] == admin_user.username
    assert restore["duration_s"] == "75.0" and restore["outcome"] == "completed"
    assert restore["started_at"] and restore["finished_at"] and restore["what"]
    counts = [int(restore[k]) for k in ("created", "updated", "unchanged", "skipped", "failed")]
    assert sum(counts) == int(restore["total"])
    plan = next(r for r in rows if r["session_id"] == str(kinds["plan"].pk))
    assert (plan["kind"], plan["outcome"]) == ("plan", "planned")

    response = client.get(reverse("history_json"), {"kind": "apply"})
    (only,) = json.loads(b"".join(response.streaming_content))
    assert only["session_id"] == kinds["apply"].pk and only["kind"] == "restore"
    assert "applies plan" in only["what"] and only["who"] == "sam"
