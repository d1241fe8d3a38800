from __future__ import annotations

from django.apps import AppConfig


class RestoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "restore"
    verbose_name = "Restore"

    def ready(self) -> None:
        import os

        from restore import checks  # noqa: F401 - registers the system checks
        from restore.engine import forget_inherited_pools

        os.register_at_fork(after_in_child=forget_inherited_pools)
