from __future__ import annotations

from django.apps import AppConfig


class RestoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "restore"
    verbose_name = "Restore"
