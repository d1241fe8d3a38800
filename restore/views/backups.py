"""Backups: upload or register a lookervault file, watch its verification, browse what it holds."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404, HttpResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.datastructures import MultiValueDict
from django.utils.text import get_valid_filename
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from restore import roles
from restore.access import require_perm
from restore.engine import (
    BackupError,
    ContentType,
    Selection,
    lineage_of,
    lineages,
    open_backup,
    user_email,
)
from restore.forms import BackupItemFilterForm, RegisterBackupForm, UploadBackupForm
from restore.models import Backup, Destination
from restore.tasks import enqueue_backup_verification
from restore.views import item_summary
from restore.views.changes import folded_history
from restore.views.helpers import PER_PAGE, Page, filter_query, page_number, pretty_json


class BackupUnavailable(Exception):
    """The backup file cannot be read (missing reader, moved file, corrupt database)."""


class MaxSizeUploadHandler(FileUploadHandler):
    """Stop reading an upload as soon as it passes the configured size limit."""

    def __init__(self, request=None, limit: int = 0) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int):
        return None


def lineage_groups(backups: list[Backup]) -> list[dict]:
    """The backups in lineages (one instance each, oldest extraction first), then the rest."""
    groups = [g for g in lineages() if len(g.backups) > 1]
    grouped = {b.pk for g in groups for b in g.backups}
    out = [
        {
            "lineage": g,
            "first": g.backups[0],
            "last": g.backups[-1],
            "rows": [(b, g.backups[i - 1].pk if i else None) for i, b in enumerate(g.backups)],
        }
        for g in groups
    ]
    rest = [(b, None) for b in backups if b.pk not in grouped]
    return out + ([{"lineage": None, "rows": rest}] if rest else [])


def too_large_message() -> str:
    limit = settings.LOOKERVAULT_MAX_UPLOAD_BYTES
    return f"The file is larger than the upload limit of {limit / 1024**2:,.0f} MB."


@require_GET
@require_perm(roles.VIEW)
def backup_list(request):
    backups = list(Backup.objects.select_related("uploaded_by")[:200])
    context = {
        "backups": backups,
        "groups": lineage_groups(backups),
        "upload_form": UploadBackupForm(),
        "register_form": RegisterBackupForm(),
        "max_upload_bytes": settings.LOOKERVAULT_MAX_UPLOAD_BYTES,
    }
    return render(request, "restore/backup_list.html", context)


@csrf_exempt
@require_POST
@require_perm(roles.MANAGE_BACKUPS)
def backup_upload(request):
    """Stream the upload to disk (never into memory) under BACKUP_DIR, then verify in the background."""
    limit = settings.LOOKERVAULT_MAX_UPLOAD_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if refused := csrf_before_body(request):
        return refused
    if declared > limit + 64 * 1024:  # multipart framing adds a little
        return upload_failed(request, too_large_message(), status=413)
    request.upload_handlers.insert(0, MaxSizeUploadHandler(request, limit))
    form = UploadBackupForm(request.POST, request.FILES)
    if not form.is_valid():
        message = (
            too_large_message() if _was_stopped(request) else "Choose a backup file to upload."
        )
        return upload_failed(request, message)
    upload = form.cleaned_data["file"]
    backup = store_upload(upload, request.user, form.cleaned_data.get("name") or "")
    enqueue_backup_verification(backup.pk)
    messages.success(request, f"Uploaded {backup.name}; verifying it in the background.")
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = backup_url(backup)
        return response
    return redirect("backup_detail", backup_id=backup.pk)


def csrf_before_body(request) -> HttpResponse | None:
    """Django's CSRF check, before a byte of the body is read: a forged upload is refused at
    once, not after 20 GiB. The token comes in the X-CSRFToken header (the form as JavaScript
    sends it), or in the query string of the form's action (the form posted without JavaScript),
    never from the body. Django compares it (in constant time). None when it passes; the body is
    parsed afterwards as usual."""
    header = settings.CSRF_HEADER_NAME
    from_query = header not in request.META and CSRF_FIELD in request.GET
    if from_query:
        request.META[header] = request.GET[CSRF_FIELD]
    request._post, request._files = QueryDict(), MultiValueDict()  # the check must not read it
    try:
        return CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, None, (), {})
    finally:
        del request._post, request._files
        if from_query:
            del request.META[header]


CSRF_FIELD = "csrfmiddlewaretoken"  # the query parameter, named as Django names the form field


def _was_stopped(request) -> bool:
    return any(
        isinstance(h, MaxSizeUploadHandler) and h.received > h.limit
        for h in request.upload_handlers
    )


def backup_url(backup: Backup) -> str:
    from django.urls import reverse

    return reverse("backup_detail", kwargs={"backup_id": backup.pk})


def upload_failed(request, message: str, status: int = 400) -> HttpResponse:
    if request.htmx:  # htmx swaps only 2xx responses: the message itself says it failed
        return render(request, "restore/partials/form_error.html", {"message": message})
    messages.error(request, message)
    return redirect("backup_list")


def store_upload(upload, user, name: str) -> Backup:
    """Move the temporary upload into BACKUP_DIR under a unique name and register it."""
    backup_dir = Path(settings.BACKUP_DIR)
    backup_dir.mkdir(parents=True, exist_ok=True)
    safe = get_valid_filename(Path(upload.name).name) or "backup.db"
    target = backup_dir / f"{uuid.uuid4().hex[:12]}-{safe}"
    try:
        if hasattr(upload, "temporary_file_path"):  # on disk already: move, do not copy GBs
            shutil.move(upload.temporary_file_path(), target)
        else:
            with target.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
        return Backup.register(target, user=user, name=name or Path(upload.name).name)
    except BaseException:
        target.unlink(missing_ok=True)  # a failed upload leaves nothing behind in BACKUP_DIR
        raise


@require_POST
@require_perm(roles.MANAGE_BACKUPS)
def backup_register(request):
    """Register a file that is already on the server, inside the data directory only."""
    form = RegisterBackupForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("path", []) + form.non_field_errors():
            messages.error(request, error)
        return redirect("backup_list")
    backup = Backup.register(
        form.cleaned_data["path"], user=request.user, name=form.cleaned_data["name"]
    )
    enqueue_backup_verification(backup.pk)
    messages.success(request, f"Registered {backup.name}; verifying it in the background.")
    return redirect("backup_detail", backup_id=backup.pk)


@require_POST
@require_perm(roles.MANAGE_BACKUPS)
def backup_verify(request, backup_id: int):
    backup = get_object_or_404(Backup, pk=backup_id)
    enqueue_backup_verification(backup.pk)
    messages.success(request, "Verification started.")
    return redirect("backup_detail", backup_id=backup.pk)


@require_GET
@require_perm(roles.VIEW)
def backup_status(request, backup_id: int):
    """The verification panel, polled while the check runs; stops polling once it has a result."""
    backup = get_object_or_404(Backup, pk=backup_id)
    response = render(request, "restore/partials/backup_status.html", {"backup": backup})
    if backup.status in (Backup.Status.VERIFIED, Backup.Status.FAILED):
        response.status_code = HttpResponseStopPolling.status_code
    return response


def reader_selection(filters: dict) -> Selection:
    """A backup reader Selection built from the list filters."""
    kwargs: dict = {"include_deleted": bool(filters.get("include_deleted"))}
    if filters.get("content_type"):
        kwargs["content_types"] = [ContentType.parse(filters["content_type"])]
    if filters.get("search"):
        kwargs["search"] = filters["search"]
    if filters.get("owner"):
        kwargs["owner"] = filters["owner"]
    if filters.get("folder"):
        kwargs["folder_id"] = filters["folder"]
    return Selection(**kwargs)


def read_items_page(backup: Backup, filters: dict, number: int) -> tuple[list, bool, int, int]:
    """One page of the matching items (plus one row to know if there is a next), how many match
    in all (the reader counts in SQL), and how many more the filter hides as deleted (the page
    says so: the backup's counts include them)."""
    offset = (number - 1) * PER_PAGE
    try:
        with open_backup(backup.path) as reader:
            selection = reader_selection(filters)
            rows = reader.page(selection, offset, PER_PAGE + 1)
            total = reader.count(selection)
            hidden = 0
            if not selection.include_deleted:
                every = selection.model_copy(update={"include_deleted": True})
                hidden = reader.count(every) - total
            items = [item_row(r) for r in rows[:PER_PAGE]]
            name_owners_and_folders(reader, rows[:PER_PAGE], items)
    except (BackupError, OSError, ValueError) as exc:
        raise BackupUnavailable(f"The backup file could not be read: {exc}") from exc
    return items, len(rows) > PER_PAGE, total, hidden


def name_owners_and_folders(reader, rows: list, items: list[dict]) -> None:
    """Each row's owner and folder by name (the ID stays beside it), and each user's own name,
    from the backup itself."""
    names: dict[tuple[ContentType, str], str] = {}

    def name(ct: ContentType, sid: object) -> str:
        key = (ct, str(sid))
        if sid in (None, "") or key in names:
            return names.get(key, "")
        found = reader.get_item(ct, str(sid))
        content = (found.content if found is not None and not found.error else None) or {}
        person = f"{content.get('first_name') or ''} {content.get('last_name') or ''}".strip()
        names[key] = str(content.get("display_name") or person or content.get("name") or "")
        return names[key]

    for row, item in zip(rows, items, strict=True):
        if item["content_type"] == ContentType.USER.slug:  # a person by their name, not "Untitled"
            item["name"] = name(ContentType.USER, item["id"]) or item["name"]
        owner_id = _get(row, "owner_id")
        item["owner_name"] = name(ContentType.USER, owner_id)
        item["owner_id"] = owner_id
        item["folder_name"] = name(ContentType.FOLDER, _get(row, "folder_id"))


def _get(item, name: str, default=None):
    if isinstance(item, dict):
        return item.get(name, default)
    return getattr(item, name, default)


def item_row(item, with_content: bool = False) -> dict:
    """The display fields of a backup item (its stored object only when asked: decoding costs)."""
    ct = _get(item, "content_type")
    try:
        slug = ContentType(int(ct)).slug
    except (TypeError, ValueError):
        slug = str(ct)
    return {
        "content_type": slug,
        "id": _get(item, "plain_id") or _get(item, "id") or _get(item, "item_id"),
        "name": _get(item, "name", ""),
        "owner": _get(item, "owner_email") or _get(item, "owner_id") or "",
        "folder_id": _get(item, "folder_id") or "",
        "updated_at": _get(item, "updated_at") or "",
        "deleted_at": _get(item, "deleted_at") or "",
        "content": None,
        "error": "",
    } | (item_content(item) if with_content else {})


def item_content(item) -> dict:
    """The decoded object, or the reason it cannot be decoded (a corrupt blob fails only itself)."""
    problem = _get(item, "error")
    if problem:
        return {"content": None, "error": f"The stored object cannot be read: {problem}"}
    return {"content": _get(item, "content"), "error": ""}


@require_GET
@require_perm(roles.VIEW)
def backup_detail(request, backup_id: int):
    backup = get_object_or_404(Backup, pk=backup_id)
    form = BackupItemFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    number = page_number(request)
    error = ""
    items: list = []
    has_next = False
    total = None
    hidden = 0
    if backup.status == Backup.Status.VERIFIED or backup.item_counts:
        try:
            items, has_next, total, hidden = read_items_page(backup, filters, number)
        except BackupUnavailable as exc:
            error = str(exc)
    page = Page(items, number, has_next, filter_query(request))
    page.total = total
    context = {
        "hidden_deleted": hidden,
        "backup": backup,
        "lineage": lineage_of(backup.pk) if backup.status == Backup.Status.VERIFIED else None,
        "destinations": Destination.objects.order_by("name") if not request.htmx else [],
        "form": form,
        "counts": sorted(backup.item_counts.items(), key=lambda kv: -kv[1]),
        "page": page,
        "error": error,
        "folders": folder_choices(backup) if not request.htmx else [],
        "owners": owner_choices(backup) if not request.htmx else [],
    }
    template = (
        "restore/partials/backup_items.html" if request.htmx else "restore/backup_detail.html"
    )
    return render(request, template, context)


def folder_choices(backup: Backup, limit: int = 1000) -> list[tuple[str, str]]:
    """(ID, name) of the backup's folders, for the folder filter's search-as-you-type list."""
    try:
        with open_backup(backup.path) as reader:
            rows = reader.page(Selection(content_types=[ContentType.FOLDER]), 0, limit)
    except (BackupError, OSError, ValueError):
        return []
    return [(str(_get(r, "plain_id") or _get(r, "id")), _get(r, "name") or "") for r in rows]


def owner_choices(backup: Backup, limit: int = 1000) -> list[tuple[str, str]]:
    """(email, or ID when there is none; "Name · #ID") of the backup's users, for the owner
    filter's search-as-you-type list: the filter takes either, a person is found by name."""
    try:
        with open_backup(backup.path) as reader:
            rows = reader.page(Selection(content_types=[ContentType.USER]), 0, limit)
            users = [(str(_get(r, "plain_id") or _get(r, "id")), r.content) for r in rows]
    except (BackupError, OSError, ValueError):
        return []
    choices = []
    for uid, content in users:
        email = user_email(content or {}) or ""
        first_last = f"{content.get('first_name') or ''} {content.get('last_name') or ''}"
        name = content.get("display_name") or first_last.strip() or email or f"user {uid}"
        choices.append((email or uid, f"{name} · #{uid}"))
    return sorted(choices, key=lambda c: c[1].casefold())


REFERENCE_FIELDS = {
    "folder_id": ContentType.FOLDER,
    "parent_id": ContentType.FOLDER,
    "space_id": ContentType.FOLDER,
    "look_id": ContentType.LOOK,
    "dashboard_id": ContentType.DASHBOARD,
    "user_id": ContentType.USER,
    "board_id": ContentType.BOARD,
    "permission_set_id": ContentType.PERMISSION_SET,
    "model_set_id": ContentType.MODEL_SET,
    "group_id": ContentType.GROUP,
    "role_id": ContentType.ROLE,
}


def dependencies(content, limit: int = 200) -> list[dict]:
    """References inside an item (folder, owner, looks on tiles...) that a restore needs first."""
    found: dict[tuple[str, str], dict] = {}

    def walk(node, path: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(node, dict):
            for key, value in node.items():
                if key in REFERENCE_FIELDS and value not in (None, "", 0):
                    ct = REFERENCE_FIELDS[key]
                    found.setdefault(
                        (ct.slug, str(value)),
                        {"type": ct.slug, "id": str(value), "via": f"{path}{key}"},
                    )
                elif key in ("group_ids", "role_ids") and isinstance(value, list):
                    ct = ContentType.GROUP if key == "group_ids" else ContentType.ROLE
                    for v in value:
                        found.setdefault(
                            (ct.slug, str(v)),
                            {"type": ct.slug, "id": str(v), "via": f"{path}{key}"},
                        )
                elif isinstance(value, (dict, list)):
                    walk(value, f"{path}{key}.")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}{index}.")

    walk(content, "")
    return list(found.values())


@require_GET
@require_perm(roles.VIEW)
def backup_item(request, backup_id: int, content_type: str, item_id: str):
    backup = get_object_or_404(Backup, pk=backup_id)
    try:
        ct = ContentType.parse(content_type)
    except ValueError as exc:
        raise Http404("Unknown content type.") from exc
    error = ""
    item = None
    deps: list[dict] = []
    row: dict = {"content_type": ct.slug, "id": item_id}
    try:
        with open_backup(backup.path) as reader:
            item = reader.get_item(ct, item_id)
            if item is not None:
                row = item_row(item, with_content=True)
                content = row.get("content")
                deps = [
                    d
                    for d in (dependencies(content) if content else [])
                    if (d["type"], d["id"]) != (ct.slug, str(row["id"]))
                ]
                name_references(reader, row, deps)
    except (BackupError, OSError, ValueError) as exc:
        error = f"The backup file could not be read: {exc}"
    if item is None and not error:
        raise Http404(f"No {ct.slug.replace('_', ' ')} {item_id} in this backup.")
    error = error or row.get("error", "")
    content = row.get("content")
    context = {
        "backup": backup,
        "item": row,
        "content_type": ct,
        "json": pretty_json(content),
        "summary": item_summary.summary(ct.slug, content, row),
        "dependencies": deps,
        "error": error,
        "history": folded_history(backup, ct, str(row["id"])) if item is not None else {},
    }
    return render(request, "restore/backup_item.html", context)


# How a reference reads on the item page ("folder.parent_id" → "parent folder").
VIA_WORDS = {
    "folder_id": "its folder",
    "space_id": "its folder",
    "parent_id": "parent folder",
    "user_id": "owner",
    "look_id": "a tile's look",
    "dashboard_id": "a dashboard it shows",
    "board_id": "its board",
    "group_ids": "its groups",
    "role_ids": "its roles",
    "permission_set_id": "its permission set",
    "model_set_id": "its model set",
    "group_id": "a group",
    "role_id": "a role",
}
NAMED_AT_MOST = 50


def name_references(reader, row: dict, deps: list[dict]) -> None:
    """Names for what the page shows by ID: the owner, the folder, each dependency (the ID stays
    beside the name); "not in this backup" when the backup does not hold it."""

    def name_of(ct: ContentType, ref: str) -> str:
        try:
            found = reader.get_item(ct, str(ref))
        except (BackupError, ValueError):
            return ""
        if found is None:
            return ""
        if ct == ContentType.USER:  # lookervault stores no name for users: their email is one
            content = _get(found, "content") or {}
            person = " ".join(
                str(content.get(k)) for k in ("first_name", "last_name") if content.get(k)
            )
            email = content.get("email") or _get(found, "owner_email")
            if person or email:
                return f"{person} <{email}>" if person and email else person or email
        return _get(found, "name") or f"#{ref}"

    if row.get("folder_id"):
        row["folder_name"] = name_of(ContentType.FOLDER, row["folder_id"])
    owner = row.get("owner")
    if owner and str(owner).isdigit():
        row["owner_name"] = name_of(ContentType.USER, owner)
    for d in deps[:NAMED_AT_MOST]:
        d["name"] = name_of(ContentType.parse(d["type"]), d["id"])
        key = d["via"].rsplit(".", 1)[-1]
        d["why"] = VIA_WORDS.get(key, d["via"].replace("_", " "))
