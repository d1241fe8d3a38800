"""Restore state and its verbs. Long work lives in `restore.engine`; these rows are its memory."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone

from restore.engine.core.config import RestoreConfig
from restore.engine.core.content_types import ContentType
from restore.secrets import decrypt_secret, encrypt_secret

CONTENT_TYPE_CHOICES = [(t.value, t.slug.replace("_", " ")) for t in ContentType]


class Backup(models.Model):
    """A registered lookervault SQLite backup file."""

    class Status(models.TextChoices):
        PENDING = "pending"
        VERIFYING = "verifying"
        VERIFIED = "verified"
        FAILED = "failed"

    name = models.CharField(max_length=200)
    path = models.CharField(max_length=1000, unique=True)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    source_instance = models.CharField(max_length=500, blank=True)
    schema_version = models.IntegerField(null=True, blank=True)
    id_style = models.CharField(max_length=20, blank=True)
    item_counts = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.PENDING, db_index=True)
    verification_error = models.TextField(blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # When lookervault took it, and the evidence that places it in a lineage (the backups of
    # one instance): filled on first use by the engine's lineage module.
    extracted_at = models.DateTimeField(null=True, blank=True)
    fingerprint = models.JSONField(default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("manage_backups", "Can upload, register and verify backups")]

    def __str__(self) -> str:
        return self.name

    @property
    def total_items(self) -> int:
        return sum(self.item_counts.values())

    @classmethod
    def register(cls, path: str | Path, user=None, name: str = "") -> Backup:
        """Register a backup file (idempotent per path); verification is a separate step."""
        resolved = Path(path).expanduser().resolve()
        if not resolved.is_file():
            raise FileNotFoundError(f"no backup file at {resolved}")
        backup, _ = cls.objects.get_or_create(
            path=str(resolved),
            defaults={"name": name or resolved.name, "uploaded_by": user},
        )
        return backup

    def restore_refusal(self) -> str:
        """Why this backup cannot be restored from now ("" when it can): it must be verified, and
        its file must still be the one verified (same SHA-256), not replaced on disk since."""
        again = f"verify it again (`manage.py backups verify {self.pk}`, or Verify on its page)"
        if self.status != self.Status.VERIFIED:
            detail = f": {self.verification_error}" if self.verification_error else ""
            return f"backup {self.pk} is not verified ({self.status}{detail}); {again}"
        try:
            digest = file_sha256(Path(self.path))
        except OSError as exc:
            return f"backup {self.pk}: its file cannot be read ({exc})"
        if digest != self.sha256:
            return (
                f"backup {self.pk}: its file changed since it was verified (SHA-256 {digest[:12]}… "
                f"instead of {self.sha256[:12]}…); {again}"
            )
        return ""

    def verify(self) -> bool:
        """Check the file (integrity, schema, every blob) and record what it holds."""
        from restore.engine.backup.reader import BackupError, open_backup

        self.status = self.Status.VERIFYING
        self.save(update_fields=["status"])
        try:
            self.size = Path(self.path).stat().st_size
            self.sha256 = file_sha256(Path(self.path))
            with open_backup(self.path) as reader:
                report = reader.verify()
                self.source_instance = reader.source_instance() or ""
        except (BackupError, OSError) as exc:
            self.status = self.Status.FAILED
            self.verification_error = str(exc)
        else:
            self.schema_version = report.schema_version
            self.id_style = report.id_style or ""
            self.item_counts = {ContentType(ct).slug: n for ct, n in report.counts.items()}
            self.status = self.Status.VERIFIED if report.ok else self.Status.FAILED
            self.verification_error = "\n".join(report.problems)
        if self.status == self.Status.FAILED and self.is_upload:
            self.discard_upload()
        self.verified_at = timezone.now()
        self.save()
        return self.status == self.Status.VERIFIED

    @property
    def is_upload(self) -> bool:
        """Uploaded through the app (its file is ours, in BACKUP_DIR), not registered in place."""
        backup_dir = Path(settings.BACKUP_DIR).resolve()
        return self.uploaded_by_id is not None and Path(self.path).parent == backup_dir

    def discard_upload(self) -> None:
        """An uploaded file that failed verification is removed (it would stay for ever); the row
        keeps why. A file registered in place is never touched."""
        Path(self.path).unlink(missing_ok=True)
        self.verification_error += "\nThe uploaded file was removed: upload a good copy again."


class Destination(models.Model):
    """A Looker instance to restore into. The client secret is stored encrypted, never shown."""

    name = models.SlugField(max_length=100, unique=True)
    base_url = models.URLField(max_length=500)
    client_id = models.CharField(max_length=200)
    client_secret_encrypted = models.TextField(editable=False)
    verify_ssl = models.BooleanField(default=True)
    timeout = models.PositiveIntegerField(default=120, help_text="API timeout in seconds")
    looker_version = models.CharField(max_length=50, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_destinations", "Can add, edit and test destinations")]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # never leak the secret through a debug repr
        return f"<Destination {self.name} {self.base_url}>"

    def set_client_secret(self, plaintext: str) -> None:
        self.client_secret_encrypted = encrypt_secret(plaintext)

    def get_client_secret(self) -> str:
        return decrypt_secret(self.client_secret_encrypted)


class RestoreSession(models.Model):
    """One restore run (or dry run, rollback, DLQ retry) and its live counters."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        COMPLETED = "completed"  # every item done, none failed
        COMPLETED_WITH_FAILURES = "completed_with_failures", "completed with failures"
        FAILED = "failed"  # stopped by an error, or every item failed
        CANCELLED = "cancelled"

    class Kind(models.TextChoices):
        RESTORE = "restore"
        ROLLBACK = "rollback"
        RETRY = "retry"  # dead-letter items of one session, run again
        DRIFT = "drift"  # what changed in the destination since the backup: reads only

    ACTIVE_STATUSES = (Status.PENDING, Status.RUNNING)
    FINISHED_STATUSES = (Status.COMPLETED, Status.COMPLETED_WITH_FAILURES)

    kind = models.CharField(max_length=20, choices=Kind, default=Kind.RESTORE)
    status = models.CharField(max_length=30, choices=Status, default=Status.PENDING)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    backup = models.ForeignKey(Backup, null=True, blank=True, on_delete=models.PROTECT)
    destination = models.ForeignKey(Destination, on_delete=models.PROTECT)
    source_instance = models.CharField(max_length=500, blank=True)
    rollback_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="rollbacks"
    )
    # A retry session: the session whose dead-letter items it runs again.
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="retries"
    )
    config = models.JSONField(default=dict)
    dry_run = models.BooleanField(default=False)

    total = models.IntegerField(default=0)
    created = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    skipped = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)

    cancel_requested = models.BooleanField(default=False)
    # Lease: the worker running the session refreshes heartbeat_at; a stale heartbeat on a
    # "running" session means its process died and resume may take over.
    worker_id = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    progress = models.JSONField(default=dict, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    # Same instance or not: the sample checked at the start, or the user's override
    # (identity.InstanceCheck.as_dict()).
    identity = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["-created_at"]),
            models.Index(fields=["destination", "-created_at"]),
            models.Index(fields=["started_by", "-created_at"]),
        ]
        permissions = [
            ("run_restore", "Can start, cancel, resume and roll back restores"),
            ("view_restore_data", "Can view sessions, items, history and the DLQ"),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} ({self.status})"

    @property
    def options(self) -> RestoreConfig:
        return RestoreConfig.model_validate(self.config)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def done_count(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped + self.failed

    @staticmethod
    def final_status(*, error: str, cancelled: bool, done: int, failed: int) -> str:
        """What a run that ended says about itself: never "completed" when items failed."""
        if error:
            return RestoreSession.Status.FAILED
        if cancelled:
            return RestoreSession.Status.CANCELLED
        if failed and failed >= done:
            return RestoreSession.Status.FAILED
        if failed:
            return RestoreSession.Status.COMPLETED_WITH_FAILURES
        return RestoreSession.Status.COMPLETED

    def cancel(self) -> bool:
        """Ask the workers to stop after their current item. Returns False if not running."""
        n = RestoreSession.objects.filter(pk=self.pk, status__in=self.ACTIVE_STATUSES).update(
            cancel_requested=True
        )
        self.refresh_from_db(fields=["cancel_requested", "status"])
        return n == 1

    request_cancel = cancel  # the name bench/ scripts use

    def resume(self) -> None:
        """Make the session claimable again. A cancelled or failed one goes back to pending (its
        page polls until a worker claims it); a stalled running one is taken over by the next
        runner (the lease decides, in `runner.claim_session`)."""
        RestoreSession.objects.filter(
            pk=self.pk, status__in=(self.Status.CANCELLED, self.Status.FAILED)
        ).update(status=self.Status.PENDING)
        RestoreSession.objects.filter(pk=self.pk).update(cancel_requested=False)
        self.refresh_from_db(fields=["cancel_requested", "status"])


class RestoreCheckpoint(models.Model):
    """Per session and content type: how far the restore got, for resume and progress."""

    session = models.ForeignKey(
        RestoreSession, on_delete=models.CASCADE, related_name="checkpoints"
    )
    content_type = models.PositiveSmallIntegerField(choices=CONTENT_TYPE_CHOICES)
    completed_ids = models.JSONField(default=list, blank=True)
    completed_count = models.IntegerField(default=0)
    failed_count = models.IntegerField(default=0)
    level_done = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "content_type"], name="uniq_checkpoint_session_type"
            )
        ]


class ItemClaim(models.Model):
    """A backup item held by the session restoring it into a destination, from before it is looked
    up until the session ends: two sessions writing into one destination at once (the user
    confirmed running them side by side) never both look up and write the same item."""

    # No index of its own: uniq_item_claim starts with it. A claim is inserted for every item
    # restored, and in SQLite every index an insert touches is one more page its commit writes.
    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    content_type = models.PositiveSmallIntegerField(choices=CONTENT_TYPE_CHOICES)
    source_id = models.CharField(max_length=255)
    session = models.ForeignKey(RestoreSession, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "content_type", "source_id"], name="uniq_item_claim"
            )
        ]


class IDMapping(models.Model):
    """Source instance object → destination object, so references follow objects across instances."""

    source_instance = models.CharField(max_length=500)
    # The Looker instance the object was restored into (`destination_id` is the object's ID there).
    # No index of its own: idmap_dest_idx starts with it (one page fewer per entry recorded; and
    # uniq_idmapping_source serves lookups by source and destination instance).
    destination_instance = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="mappings", db_index=False
    )
    content_type = models.PositiveSmallIntegerField(choices=CONTENT_TYPE_CHOICES)
    source_id = models.CharField(max_length=255)
    destination_id = models.CharField(max_length=255)
    # The destination object's immutable fields when the entry was recorded (identity.evidence):
    # a later session trusts the entry only while the object still shows them.
    evidence = models.JSONField(null=True, blank=True)
    session = models.ForeignKey(
        RestoreSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_instance", "destination_instance", "content_type", "source_id"],
                name="uniq_idmapping_source",
            )
        ]
        indexes = [
            models.Index(
                fields=["destination_instance", "content_type", "destination_id"],
                name="idmap_dest_idx",
            ),
        ]


class RestoreItemResult(models.Model):
    """What happened to one item in one session: the audit trail and the resume checkpoint."""

    class Action(models.TextChoices):
        PENDING = "pending"  # intent recorded before a create; resolved on resume
        CREATED = "created"
        UPDATED = "updated"
        UNCHANGED = "unchanged"
        SKIPPED = "skipped"
        FAILED = "failed"
        BLOCKED = "blocked"

    # No index of its own: uniq_result_item and the indexes below start with it. A row is inserted
    # for every item restored, and in SQLite every index an insert touches is one more page its
    # commit writes: about a quarter of the insert's CPU went to the two indexes left out here.
    session = models.ForeignKey(
        RestoreSession, on_delete=models.CASCADE, related_name="results", db_index=False
    )
    content_type = models.PositiveSmallIntegerField(choices=CONTENT_TYPE_CHOICES)
    source_id = models.CharField(max_length=255)
    name = models.CharField(max_length=500, blank=True)
    action = models.CharField(max_length=20, choices=Action)
    destination_id = models.CharField(max_length=255, blank=True)
    message = models.TextField(blank=True)
    diff = models.JSONField(null=True, blank=True)
    # The destination object as it was before this session overwrote it: "undo this restore".
    pre_image = models.JSONField(null=True, blank=True)
    duration_ms = models.IntegerField(default=0)
    finished_at = models.DateTimeField(default=timezone.now)
    # Set when a dead-letter retry later succeeded: the item still counts as failed in the session
    # it failed in (its outcome then), and as "since retried" beside it.
    retried_at = models.DateTimeField(null=True, blank=True)
    # Transient errors (429, 5xx, timeouts) retried on the way to this outcome: the attempts that
    # failed before one went through. Null when none was needed.
    retries = models.JSONField(null=True, blank=True)
    # A dependency the selection did not hold, restored on the way (--with-dependencies) by this
    # session or by a retry of it: one more item of that run (its total and counts), never of the
    # finished run the row is kept in for its rollback.
    added_by = models.ForeignKey(
        "RestoreSession",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # indexed where set only (result_added_by_idx): most rows have none
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "content_type", "source_id"], name="uniq_result_item"
            )
        ]
        indexes = [
            models.Index(fields=["session", "action"], name="result_session_action_idx"),
            models.Index(fields=["session", "content_type", "action"], name="result_type_idx"),
            models.Index(fields=["session", "-finished_at"], name="result_recent_idx"),
            models.Index(
                fields=["added_by"],
                condition=models.Q(added_by__isnull=False),
                name="result_added_by_idx",
            ),
        ]


class DeadLetterItem(models.Model):
    """An item that finally failed, with everything needed to understand and retry it."""

    class Status(models.TextChoices):
        OPEN = "open"
        RETRYING = "retrying"
        RESOLVED = "resolved"  # a retry succeeded
        DISMISSED = "dismissed"  # a person decided it needs no restore
        # Its restore was rolled back: a retry would write back part of what the rollback undid.
        ROLLED_BACK = "rolled_back", "rolled back"

    session = models.ForeignKey(RestoreSession, on_delete=models.CASCADE, related_name="dlq_items")
    content_type = models.PositiveSmallIntegerField(choices=CONTENT_TYPE_CHOICES)
    content_id = models.CharField(max_length=255)
    name = models.CharField(max_length=500, blank=True)
    content_blob = models.BinaryField(blank=True)
    error_message = models.TextField()
    error_class = models.CharField(max_length=200)
    http_status = models.IntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    request_method = models.CharField(max_length=10, blank=True)
    request_path = models.CharField(max_length=1000, blank=True)
    request_payload = models.JSONField(null=True, blank=True)
    stack_trace = models.TextField(blank=True)
    retry_count = models.IntegerField(default=0)
    attempts = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.OPEN)
    # The retry session that claimed the item (status "retrying" while it runs; kept after).
    retry_session = models.ForeignKey(
        RestoreSession,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retried_items",
    )
    failed_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    resolution_note = models.TextField(blank=True)
    # The dismissal that closed it (while dismissed): its undo reopens exactly the items it
    # still holds, never those dismissed again since by someone else.
    dismissal = models.ForeignKey(
        "AuditEvent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dismissed_items",
    )

    class Meta:
        ordering = ["-failed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "content_type", "content_id"], name="uniq_dlq_item"
            )
        ]
        indexes = [
            models.Index(fields=["status", "-failed_at"], name="dlq_status_idx"),
            models.Index(fields=["session", "status"], name="dlq_session_idx"),
            models.Index(fields=["error_class", "http_status"], name="dlq_class_idx"),
            models.Index(fields=["content_type", "content_id"], name="dlq_content_idx"),
            models.Index(fields=["-failed_at"], name="dlq_failed_idx"),
        ]
        permissions = [("retry_dlq", "Can retry, resolve and dismiss dead-letter items")]

    @property
    def content_type_enum(self) -> ContentType:
        return ContentType(self.content_type)

    @property
    def is_being_retried(self) -> bool:
        """Retrying, and its retry session still pending or running (a cancelled or failed one
        waits for a resume: nothing to wait for on a page)."""
        if self.status != self.Status.RETRYING:
            return False
        return self.retry_session is None or self.retry_session.is_active

    def retry(self) -> bool:
        """Claim the item for a retry: open → retrying, by a conditional UPDATE, so two retries of
        one item never run at once. False when somebody else has it (or it is closed)."""
        n = DeadLetterItem.objects.filter(pk=self.pk, status=self.Status.OPEN).update(
            status=self.Status.RETRYING
        )
        if n == 1:
            self.status = self.Status.RETRYING
        return n == 1

    def dismiss(self, user, note: str = "", dismissal=None) -> None:
        """A person decided the item needs no restore (recorded as `dismissal`)."""
        self.resolve(user, note=note, status=self.Status.DISMISSED, dismissal=dismissal)

    def resolve(self, user, note: str = "", status: str = Status.RESOLVED, dismissal=None) -> None:
        """Close the item (resolved by a successful retry, or dismissed by `dismissal`)."""
        self.status = status
        self.resolved_at = timezone.now()
        self.resolved_by = user
        self.resolution_note = note
        self.dismissal = dismissal
        fields = ["status", "resolved_at", "resolved_by", "resolution_note", "dismissal"]
        self.save(update_fields=fields)


def file_sha256(path: Path, chunk_size: int = 1024 * 1024) -> str:
    """Hash a file in chunks: backups can be many GB."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


class RateLimitState(models.Model):
    """Shared state of one session's adaptive rate limiter when its workers span processes.

    Like healthchecks' TokenBucket: a row per key, changed inside a transaction that locks it.
    """

    key = models.CharField(max_length=200, unique=True)
    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)


class AuditEvent(models.Model):
    """A person's action outside a session's own run (DLQ retry, dismiss, reopen): the history
    shows them beside the sessions, so nothing done to a failure goes unrecorded."""

    class Action(models.TextChoices):
        RETRY = "retry"
        DISMISS = "dismiss"
        REOPEN = "reopen", "Undo dismissal"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=20, choices=Action)
    count = models.IntegerField(default=0)
    note = models.TextField(blank=True)
    # The dead-letter items acted on (IDs), so an undo reopens exactly these.
    item_ids = models.JSONField(default=list, blank=True)
    summary = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    @classmethod
    def record(cls, user, action: str, item_ids: list[int], note: str = "", summary: str = ""):
        return cls.objects.create(
            user=user if getattr(user, "pk", None) else None,
            action=action,
            count=len(item_ids),
            note=note,
            item_ids=list(item_ids)[:5000],
            summary=summary[:500],
        )
