"""System checks: does a qcluster with these settings fit in PostgreSQL's connections? Are the
destinations' secrets encrypted with a key of their own (deploy)?"""

from __future__ import annotations

from typing import Any

from django.core import checks


@checks.register()
def qcluster_fits_postgres(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when a qcluster (Q_WORKERS processes, each with its pool) may need more connections
    than PostgreSQL has left; `manage.py qcluster` refuses to start then."""
    from django.conf import settings
    from django.db import connection

    from restore.engine import measure_fit, pooled

    if not pooled():
        return []
    try:
        fit = measure_fit(connection, int(settings.Q_CLUSTER.get("workers", 1)))
    except Exception:  # noqa: BLE001 - no database yet: nothing to say about its limits
        return []
    if fit.fits:
        return []
    return [
        checks.Warning(
            f"PostgreSQL cannot fit a qcluster: {fit.explain()}",
            hint="Lower Q_WORKERS or LOOKERVAULT_DB_POOL_SIZE, or raise PostgreSQL's "
            "max_connections (docs/performance.md, connection budget).",
            id="restore.W001",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def encryption_key_set(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Destination secrets fall back to a key derived from SECRET_KEY: fine for development, not
    for a deployment (rotating SECRET_KEY would make every stored secret unreadable)."""
    from django.conf import settings

    if getattr(settings, "LOOKERVAULT_ENCRYPTION_KEY", ""):
        return []
    return [
        checks.Error(
            "LOOKERVAULT_ENCRYPTION_KEY is not set: destination API secrets are encrypted with a "
            "key derived from SECRET_KEY.",
            hint="Set LOOKERVAULT_ENCRYPTION_KEY to a long random value, and keep it: secrets "
            "stored with another key must be entered again.",
            id="restore.E002",
        )
    ]
