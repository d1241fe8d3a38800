"""Rows for the web tests: a destination, a verified fixture backup, sessions, results, DLQ items."""

from __future__ import annotations

import pytest
from django.utils import timezone

from restore.engine.core.content_types import ContentType
from restore.engine.core.documents import Counts, Summary, store
from restore.engine.run.runner import refresh_counters
from restore.models import (
    Backup,
    DeadLetterItem,
    IDMapping,
    RestoreItemResult,
    RestoreSession,
    file_sha256,
)

XSS = "<script>alert('x')</script>"


@pytest.fixture
def backup(db, fixture_backup_path) -> Backup:
    """The shared lookervault fixture, registered as verified (verification has its own tests)."""
    return Backup.objects.create(
        name="parallel.db",
        path=str(fixture_backup_path),
        status=Backup.Status.VERIFIED,
        sha256=file_sha256(fixture_backup_path),
        item_counts={"dashboard": 2, "look": 2, "folder": 3},
        source_instance="https://source.example.com",
    )


@pytest.fixture
def session(db, backup, destination, admin_user) -> RestoreSession:
    session = RestoreSession.objects.create(
        backup=backup,
        destination=destination,
        started_by=admin_user,
        source_instance=backup.source_instance,
        status=RestoreSession.Status.COMPLETED,
        config={"workers": 8, "selection": {"content_types": [1]}},
        total=3,
        created=1,
        updated=1,
        failed=1,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    # What the runner writes when a session ends (`documents.Summary`), as stored.
    counts = {"created": 1, "updated": 1, "failed": 1}
    session.summary = store(
        Summary(
            session_id=session.pk,
            status="completed",
            total=3,
            **counts,
            by_type={"dashboard": Counts(**counts)},
        )
    )
    session.save(update_fields=["summary"])
    return session


@pytest.fixture
def plan(backup, destination, admin_user) -> RestoreSession:
    """A finished plan: dashboard 101 to update, its folder 7 to create, look 55 unchanged."""
    plan = RestoreSession.objects.create(
        backup=backup,
        destination=destination,
        started_by=admin_user,
        status=RestoreSession.Status.COMPLETED,
        dry_run=True,
        config={"workers": 8, "dry_run": True, "selection": {"content_types": [1], "ids": ["101"]}},
        total=1,
        progress={"rate_limiter": {"throttled": False, "paused_for": 0.0, "scope": "local"}},
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    rows = [
        (ContentType.DASHBOARD, "101", "Sales", "updated"),
        (ContentType.FOLDER, "7", "Finance", "created"),
        (ContentType.LOOK, "55", "Revenue", "unchanged"),
    ]
    for ct, sid, name, action in rows:
        RestoreItemResult.objects.create(
            session=plan, content_type=ct, source_id=sid, name=name, action=action
        )
    refresh_counters(plan)
    return plan


@pytest.fixture
def running_session(db, backup, destination, admin_user) -> RestoreSession:
    return RestoreSession.objects.create(
        backup=backup,
        destination=destination,
        started_by=admin_user,
        status=RestoreSession.Status.RUNNING,
        total=100,
        created=40,
        config={"workers": 8},
        heartbeat_at=timezone.now(),
        # What the runner publishes (`documents.Progress`), as stored.
        progress={
            "total": 100,
            "done": 40,
            "created": 40,
            "by_type": {"dashboard": {"created": 40, "total": 100, "done": 40, "failed": 0}},
            "throughput": 12.5,
            "eta_seconds": 5,
            "elapsed_seconds": 60.0,
            "rate_limiter": {"rate_per_second": 10, "backoff": False},
            "throughput_series": [{"t": t, "rate": r} for t, r in enumerate((1, 5, 9, 12.5))],
            "recent_errors": [
                {"type": "dashboard", "id": "7", "status": 429, "message": XSS, "at": ""}
            ],
        },
    )


@pytest.fixture
def results(db, session) -> list[RestoreItemResult]:
    rows = [
        RestoreItemResult(
            session=session,
            content_type=ContentType.DASHBOARD,
            source_id="101",
            name=XSS,
            action="created",
            destination_id="501",
        ),
        RestoreItemResult(
            session=session,
            content_type=ContentType.DASHBOARD,
            source_id="102",
            name="EMEA",
            action="updated",
            destination_id="102",
            diff={
                "changes": [
                    {
                        "method": "PATCH",
                        "path": "/dashboards/102",
                        "fields": {"title": ["Old", "EMEA"]},
                    }
                ],
                "verify": None,
            },
            pre_image={"title": "Old"},
        ),
    ]
    return RestoreItemResult.objects.bulk_create(rows)


@pytest.fixture
def dlq_item(db, session) -> DeadLetterItem:
    return DeadLetterItem.objects.create(
        session=session,
        content_type=ContentType.DASHBOARD,
        content_id="103",
        name=XSS,
        error_message="Validation failed: " + XSS,
        error_class="LookerApiError",
        http_status=422,
        response_body='{"message": "Validation Failed"}',
        request_method="POST",
        request_path="/api/4.0/dashboards",
        request_payload={"title": "x"},
        stack_trace="Traceback ...",
        attempts=[  # as `retry.describe_failure` records them (`documents.Attempt`)
            {
                "at": 1767225600.0,
                "error_class": "LookerApiError",
                "status": 422,
                "message": "Validation Failed",
            }
        ],  # fmt: skip
    )


@pytest.fixture
def mapping(db, destination, session) -> IDMapping:
    return IDMapping.objects.create(
        source_instance="https://source.example.com",
        destination_instance=destination,
        content_type=ContentType.DASHBOARD,
        source_id="101",
        destination_id="501",
        session=session,
    )


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Users are created in nearly every test; the production hasher costs ~0.3 s each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def ensure_roles() -> None:
    """(Re)create the role groups the data migration made: a transactional test elsewhere in the
    suite flushes the database, and the groups go with it."""
    from django.contrib.auth.models import Group, Permission

    from restore import roles

    for role, perms in roles.ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        codenames = [p.split(".", 1)[1] for p in perms]
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="restore", codename__in=codenames)
        )


@pytest.fixture(autouse=True)
def _roles_exist(db) -> None:
    ensure_roles()
