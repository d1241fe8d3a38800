"""The three roles, as Django groups with permissions (created by a data migration)."""

from __future__ import annotations

RESTORE_ADMIN = "Restore admin"
SUPPORT = "Support"
AUDITOR = "Auditor"

VIEW = "restore.view_restore_data"
RUN = "restore.run_restore"
RETRY_DLQ = "restore.retry_dlq"
MANAGE_BACKUPS = "restore.manage_backups"
MANAGE_DESTINATIONS = "restore.manage_destinations"

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    RESTORE_ADMIN: (VIEW, RUN, RETRY_DLQ, MANAGE_BACKUPS, MANAGE_DESTINATIONS),
    SUPPORT: (VIEW, RETRY_DLQ),
    AUDITOR: (VIEW,),
}


def ensure_role_groups() -> None:
    """(Re)create the role groups as the data migration does.

    For tests: a transactional test flushes the database, and the migration's groups go with it.
    """
    from django.contrib.auth.models import Group, Permission

    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        codenames = [p.split(".", 1)[1] for p in perms]
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="restore", codename__in=codenames)
        )
