"""All pages of the app; login is the only one open to anonymous users."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, register_converter
from django.urls.converters import PathConverter

from restore.views import (
    backups,
    changes,
    destinations,
    dlq,
    drift,
    history,
    history_export,
    home,
    restores,
    search,
    sessions,
)


class AnyIdConverter(PathConverter):
    """A backup's item ID as it is, newlines included (`path` stops at one): an ID is data from
    the backup, and a crafted one must not break the page that links to it."""

    regex = r"[\s\S]+"


register_converter(AnyIdConverter, "anyid")

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", home.home, name="home"),
    path("running/", home.home_running, name="home_running"),
    # Backups
    path("backups/", backups.backup_list, name="backup_list"),
    path("backups/upload/", backups.backup_upload, name="backup_upload"),
    path("backups/register/", backups.backup_register, name="backup_register"),
    path("backups/diff/", changes.backup_diff, name="backup_diff"),
    path("backups/<int:backup_id>/", backups.backup_detail, name="backup_detail"),
    path("backups/<int:backup_id>/drift/", drift.drift_start, name="drift_start"),
    path("backups/<int:backup_id>/status/", backups.backup_status, name="backup_status"),
    path("backups/<int:backup_id>/verify/", backups.backup_verify, name="backup_verify"),
    path(
        "backups/<int:backup_id>/items/<str:content_type>/<anyid:item_id>/",
        backups.backup_item,
        name="backup_item",
    ),
    # Destinations
    path("destinations/", destinations.destination_list, name="destination_list"),
    path("destinations/add/", destinations.destination_add, name="destination_add"),
    path(
        "destinations/<int:destination_id>/edit/",
        destinations.destination_edit,
        name="destination_edit",
    ),
    path(
        "destinations/<int:destination_id>/test/",
        destinations.destination_test,
        name="destination_test",
    ),
    # Restores and sessions
    path("restores/new/", restores.restore_new, name="restore_new"),
    path("restores/count/", restores.restore_count, name="restore_count"),
    path("restores/pickers/", restores.restore_pickers, name="restore_pickers"),
    path("sessions/<int:session_id>/", sessions.session_detail, name="session_detail"),
    path("sessions/<int:session_id>/drift/", drift.drift_detail, name="drift_detail"),
    path("sessions/<int:session_id>/drift/plan/", drift.drift_plan, name="drift_plan"),
    path("sessions/<int:session_id>/progress/", sessions.session_progress, name="session_progress"),
    path("sessions/<int:session_id>/cancel/", sessions.session_cancel, name="session_cancel"),
    path("sessions/<int:session_id>/resume/", sessions.session_resume, name="session_resume"),
    path("sessions/<int:session_id>/rollback/", sessions.session_rollback, name="session_rollback"),
    path("sessions/<int:session_id>/apply/", sessions.session_apply, name="session_apply"),
    path(
        "sessions/<int:session_id>/rollback/preview/",
        sessions.session_rollback_preview,
        name="session_rollback_preview",
    ),
    path(
        "sessions/<int:session_id>/summary.json",
        sessions.session_summary_json,
        name="session_summary_json",
    ),
    path(
        "sessions/<int:session_id>/summary.csv",
        sessions.session_summary_csv,
        name="session_summary_csv",
    ),
    path(
        "sessions/<int:session_id>/items.csv",
        sessions.session_results_csv,
        name="session_results_csv",
    ),
    path(
        "sessions/<int:session_id>/results/<int:result_id>/",
        sessions.result_detail,
        name="result_detail",
    ),
    # Dead-letter queue
    path("dlq/", dlq.dlq_list, name="dlq_list"),
    path("dlq/triage/", dlq.dlq_triage, name="dlq_triage"),
    path("dlq/triage/action/", dlq.dlq_triage_action, name="dlq_triage_action"),
    path("dlq/bulk/", dlq.dlq_bulk, name="dlq_bulk"),
    path("dlq/<int:item_id>/", dlq.dlq_item, name="dlq_item"),
    path("dlq/<int:item_id>/row/", dlq.dlq_row, name="dlq_row"),
    path("dlq/<int:item_id>/retry/", dlq.dlq_retry_one, name="dlq_retry_one"),
    path("dlq/<int:item_id>/resolve/", dlq.dlq_resolve_one, name="dlq_resolve_one"),
    path("dlq/undo/<int:event_id>/", dlq.dlq_undo, name="dlq_undo"),
    # History and ID mappings
    path("history/", history.history, name="history"),
    path("search/", search.search, name="search"),
    path("history/export.csv", history_export.history_csv, name="history_csv"),
    path("history/export.json", history_export.history_json, name="history_json"),
    path("mappings/", history.mappings, name="mappings"),
]
