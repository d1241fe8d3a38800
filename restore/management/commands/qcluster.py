"""django-q2's `qcluster`, refusing to start when PostgreSQL cannot give it the connections it
may need (restore.engine.limits.db_budget), with the arithmetic, instead of losing items to "too many
clients" in the middle of a restore."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django_q.management.commands.qcluster import Command as QclusterCommand

from restore import engine


class Command(QclusterCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        if engine.pooled():
            q_workers = int(settings.Q_CLUSTER.get("workers", 1))
            own = engine.advertise(q_workers)
            engine.close_pool()  # the checks' pool had no name: reopen it with one
            engine.one_connection_except_workers()  # what the budget counts them at
            fit = engine.measure_fit(connection, q_workers, own_id=own)
            if not fit.fits:
                raise CommandError(f"not starting: {fit.explain()}")
            self.stdout.write(f"connection budget: {fit.explain()}")
            # This process keeps one idle connection for the cluster's life: its name tells a
            # cluster starting elsewhere what this one may take. Forked processes open their own.
            connection.close()
        super().handle(*args, **options)
