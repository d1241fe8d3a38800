"""System checks: does a qcluster with these settings fit in PostgreSQL's connections?"""

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
