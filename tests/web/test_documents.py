"""The typed documents between engine and pages: what the engine's writers store, the pages show
(through the one decoder of each document), rows written by the previous version still decode, and
a renamed key fails in the decoder instead of vanishing from a page."""

from __future__ import annotations

import msgspec
import pytest
from django.urls import reverse

from restore.engine.core import documents
from restore.engine.core.content_types import ContentType
from restore.engine.core.errors import LookerApiError
from restore.engine.item.context import Change, ItemOutcome
from restore.engine.limits.rate_limiter import AdaptiveRateLimiter, LimiterParams, LocalStore
from restore.engine.limits.retries import describe_failure
from restore.engine.run import dlq, runner
from restore.engine.run.session import record_outcome
from restore.models import DeadLetterItem, RestoreItemResult

pytestmark = pytest.mark.django_db


def test_each_document_round_trips_through_its_json_field(session):
    progress = runner.Progress({"look": 3}, {})
    progress.count("look", "created")
    progress.error("look", "9", LookerApiError("slow down", status=429, method="GET", path="/x"))
    doc = progress.document({"configured_rate": 5.0})
    session.progress = documents.store(doc)
    session.save()
    session.refresh_from_db()
    assert documents.read_progress(session.progress) == doc
    assert documents.read_progress({}) is None  # nothing published is not an empty progress

    summary = runner.session_summary(session)
    assert documents.read_summary(documents.store(summary)) == summary
    attempt = describe_failure(LookerApiError("gone", status=404, method="PATCH", path="/looks/9"))
    assert documents.read_attempts([documents.store(attempt)]) == [attempt]
    diff = documents.Diff(changes=[documents.Change(method="POST", path="/looks", body={"a": 1})])
    assert documents.read_diff(documents.store(diff)) == diff


def test_rows_written_by_the_previous_version_decode(session):
    # As the previous version stored them: a diff spelling out "verify": null, a rollback's
    # summary with null counts written before its first step, the fallback attempt.
    diff = documents.read_diff(
        {"changes": [{"method": "PATCH", "path": "/looks/9", "fields": {"title": ["a", "b"]}}],
         "verify": None}
    )  # fmt: skip
    assert diff.changes[0].fields == {"title": ["a", "b"]} and diff.verify is None
    summary = documents.read_summary(
        {"session_id": 4, "status": "completed", "dry_run": False, "created": 2, "total": 2,
         "by_type": {"look": {"created": 2, "updated": 0, "unchanged": 0, "skipped": 0,
                              "failed": 0}},
         "changed_since_restore": None, "changed_since_restore_count": None}
    )  # fmt: skip
    assert summary.since_retried == 0 and summary.by_type["look"].done == 2
    assert documents.changed_count(summary.changed_since_restore_count) == 0
    (attempt,) = documents.read_attempts([{"at": 1767225600.5, "error_class": "CorruptItemError"}])
    assert attempt.when.year == 2026 and attempt.status is None


def test_a_renamed_key_fails_in_the_decoder_not_silently_on_a_page():
    with pytest.raises(msgspec.ValidationError, match="unknown field `writes`"):
        documents.read_diff({"writes": [{"method": "POST", "path": "/looks"}]})
    with pytest.raises(msgspec.ValidationError, match="unknown field `time`"):
        documents.read_attempts([{"time": 1767225600.0}])


def test_the_result_page_shows_the_changes_the_engine_recorded(client, auditor_user, session):
    outcome = ItemOutcome("updated", ContentType.LOOK, "9", "Sales", "19")
    outcome.changes = [
        Change("PATCH", "/looks/19", None, {"title": ["Old title", "Sales"]}).as_dict()
    ]
    outcome.verify_diff = {"description": ["read back", "sent"]}
    record_outcome(session, outcome)
    row = RestoreItemResult.objects.get(session=session, source_id="9")
    client.force_login(auditor_user)
    page = client.get(reverse("result_detail", args=[session.pk, row.pk])).content.decode()
    # Each value the engine stored under its key must reach the page.
    for text in ("Old title", "Sales", "re-read", "read back", "sent"):
        assert text in page, text


def test_the_dlq_page_shows_the_attempts_the_runner_recorded(client, auditor_user, session):
    exc = LookerApiError("Too many requests", status=429, method="POST", path="/api/4.0/looks")
    history = [describe_failure(exc), describe_failure(exc)]
    dead = dlq.record_failure(session, ContentType.LOOK, "9", exc, name="Sales", history=history)
    assert DeadLetterItem.objects.get(pk=dead.pk).attempts[0]["status"] == 429
    client.force_login(auditor_user)
    page = client.get(reverse("dlq_item", args=[dead.pk])).content.decode()
    assert page.count("<td>429</td>") == 2 and page.count("Too many requests") >= 2


def test_the_limiter_sentence_comes_from_what_the_limiter_published(client, auditor_user, session):
    params = LimiterParams(base_rate=None)
    limiter = AdaptiveRateLimiter(params, LocalStore(params))
    for _ in range(3):
        limiter.acquire()
        limiter.record(200)
    limiter.acquire()
    limiter.record(429, retry_after=0.0)
    progress = runner.Progress({"look": 600}, {})
    session.progress = documents.store(progress.document(limiter.state()))
    session.save()
    stored = documents.read_progress(session.progress).rate_limiter
    assert stored.published and stored.throttle_events == 1 and stored.mode == "finding capacity"
    client.force_login(auditor_user)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    # A plain sentence first, then the figure.
    assert (
        f"As fast as Looker allows: {stored.settled_rate:g} requests/s, found after 1 “too many "
        "requests” answer from Looker."
    ) in page
    # A row of an earlier version, with limiter keys since dropped, still decodes: nothing shown.
    legacy = documents.read_progress({"total": 1, "rate_limiter": {"rate_per_second": 10}})
    assert not legacy.rate_limiter.published


def test_the_page_says_why_fewer_items_run_at_once_than_there_are_workers(
    client, auditor_user, session
):
    from restore.engine.limits.cpu_load import STEP_S, ActiveItems, CpuLoad

    now = [0.0]
    load = CpuLoad(cpu=lambda: now[0], clock=lambda: now[0])  # a core in use
    active = ActiveItems(8, load)
    for _ in range(2):  # two steps of a busy process, answered at once: 8 → 4 → 3
        for _ in range(500):
            load.note_answer(0.00025)
        now[0] += STEP_S
        with active.slot():
            pass
    progress = runner.Progress({"look": 600}, {})
    session.status = "running"
    session.progress = documents.store(progress.document({}, active))
    session.save()
    client.force_login(auditor_user)
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert (
        "3 items at once instead of 8: the destination answers at once and the restoring process "
        "is using a whole CPU core"
    ) in page

    session.progress = documents.store(progress.document({}, ActiveItems(8, None)))
    session.save()
    page = client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert "items at once instead of" not in page
