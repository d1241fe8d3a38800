"""The engine's public face: what views, commands and tasks use, by name.

The engine runs a restore without a web request. Its folders are its concerns, lowest first:

- `core/`      the vocabulary every layer shares: content types, options, errors, typed documents
- `backup/`    reading a lookervault backup, verifying it, the order items are restored in
- `limits/`    the adaptive rate limiter, retries of transient errors, the database connection budget
- `looker/`    the one seam to looker-sdk: client, request bodies from the spec, compatibility
- `identity/`  evidence, which destination object is an item's counterpart, the ID map
- `item/`      one item's restore and its sub-resources (tiles, filters, layouts, memberships)
- `run/`       the runner: lease, heartbeat, cancel, checkpoints, progress, distributed chunks, DLQ
- `kinds/`     the session kinds the runner runs: restore (plan or apply), rollback, retry

Each layer imports only the ones below it (checked by `lint-imports`, see pyproject.toml). Names
are resolved on first use, so importing this module (say from `restore.models`) loads nothing else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PUBLIC: dict[str, str] = {
    "RestoreConfig": "core.config",
    "ContentType": "core.content_types",
    "NOT_RESTORABLE": "core.content_types",
    "RESTORE_ORDER": "core.content_types",
    "COUNTED": "core.documents",
    "Change": "core.documents",
    "Counts": "core.documents",
    "Diff": "core.documents",
    "LimiterState": "core.documents",
    "Progress": "core.documents",
    "RatePoint": "core.documents",
    "RecentError": "core.documents",
    "Summary": "core.documents",
    "changed_count": "core.documents",
    "read_attempts": "core.documents",
    "read_diff": "core.documents",
    "read_progress": "core.documents",
    "read_summary": "core.documents",
    "store": "core.documents",
    "RestoreError": "core.errors",
    "plural": "core.words",
    "BackupError": "backup.reader",
    "Selection": "backup.reader",
    "open_backup": "backup.reader",
    "compare_backup_files": "backup.compare",
    "item_changes": "backup.compare",
    "item_history": "identity.history",
    "backup_fingerprint": "identity.lineage",
    "lineage_of": "identity.lineage",
    "lineages": "identity.lineage",
    "same_lineage": "identity.lineage",
    "drift_findings": "kinds.drift",
    "start_drift": "kinds.drift",
    "advertise": "limits.db_budget",
    "close_pool": "limits.db_budget",
    "forget_inherited_pools": "limits.db_budget",
    "measure_fit": "limits.db_budget",
    "one_connection_except_workers": "limits.db_budget",
    "pooled": "limits.db_budget",
    "check_destination": "looker.client",
    "user_email": "looker.payloads",
    "DestinationBusy": "run.session",
    "create_session": "run.session",
    "resume_session": "run.session",
    "start_session": "run.session",
    "writing_sessions": "run.session",
    "SessionBusy": "run.runner",
    "session_is_stale": "run.runner",
    "session_summary": "run.runner",
    "summary_csv": "run.runner",
    "run_chunk": "kinds",
    "run_session": "kinds",
    "start_apply": "kinds.apply",
    "start_rollback": "kinds.rollback",
    "steps_by_op": "kinds.rollback",
    "retry_refusal": "kinds.retry",
    "retry_report": "kinds.retry",
    "start_retries": "kinds.retry",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'restore.engine' has no public name {name!r}")
    value = getattr(importlib.import_module(f"restore.engine.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from restore.engine.backup.compare import compare_backup_files, item_changes
    from restore.engine.backup.reader import BackupError, Selection, open_backup
    from restore.engine.core.config import RestoreConfig
    from restore.engine.core.content_types import NOT_RESTORABLE, RESTORE_ORDER, ContentType
    from restore.engine.core.documents import (
        COUNTED,
        Change,
        Counts,
        Diff,
        LimiterState,
        Progress,
        RatePoint,
        RecentError,
        Summary,
        changed_count,
        read_attempts,
        read_diff,
        read_progress,
        read_summary,
        store,
    )
    from restore.engine.core.errors import RestoreError
    from restore.engine.core.words import plural
    from restore.engine.identity.history import item_history
    from restore.engine.identity.lineage import (
        backup_fingerprint,
        lineage_of,
        lineages,
        same_lineage,
    )
    from restore.engine.kinds import run_chunk, run_session
    from restore.engine.kinds.apply import start_apply
    from restore.engine.kinds.drift import drift_findings, start_drift
    from restore.engine.kinds.retry import retry_refusal, retry_report, start_retries
    from restore.engine.kinds.rollback import start_rollback, steps_by_op
    from restore.engine.limits.db_budget import (
        advertise,
        close_pool,
        forget_inherited_pools,
        measure_fit,
        one_connection_except_workers,
        pooled,
    )
    from restore.engine.looker.client import check_destination
    from restore.engine.looker.payloads import user_email
    from restore.engine.run.runner import (
        SessionBusy,
        session_is_stale,
        session_summary,
        summary_csv,
    )
    from restore.engine.run.session import (
        DestinationBusy,
        create_session,
        resume_session,
        start_session,
        writing_sessions,
    )
