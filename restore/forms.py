"""Forms only validate and convert: request data in, clean values (or a RestoreConfig) out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Q
from pydantic import ValidationError

from restore.engine import NOT_RESTORABLE, RESTORE_ORDER, ContentType, RestoreConfig
from restore.models import (
    CONTENT_TYPE_CHOICES,
    Backup,
    DeadLetterItem,
    Destination,
    RestoreItemResult,
    RestoreSession,
)

TYPE_SLUG_CHOICES = [("", "All types")] + [(t.slug, t.slug.replace("_", " ")) for t in ContentType]
RESTORABLE_CHOICES = [
    (t.slug, t.slug.replace("_", " ")) for t in RESTORE_ORDER if t not in NOT_RESTORABLE
]
DEFAULTS = RestoreConfig()


class UploadBackupForm(forms.Form):
    file = forms.FileField(label="Backup file (.db)")
    name = forms.CharField(max_length=200, required=False, label="Name (optional)")


class RegisterBackupForm(forms.Form):
    path = forms.CharField(max_length=1000, label="Path on the server")
    name = forms.CharField(max_length=200, required=False, label="Name (optional)")

    def clean_path(self) -> Path:
        """Only files inside the data directory: the web app must not read arbitrary server files."""
        data_dir = Path(settings.DATA_DIR).resolve()
        raw = Path(self.cleaned_data["path"]).expanduser()
        path = (raw if raw.is_absolute() else data_dir / raw).resolve()
        if not path.is_relative_to(data_dir):
            raise forms.ValidationError(f"The path must be inside the data directory {data_dir}.")
        if not path.is_file():
            raise forms.ValidationError(f"There is no file at {path}.")
        return path


def owner_picker() -> forms.CharField:
    """Owner by name or email, from the backup's people (the `backup-owners` datalist)."""
    attrs = {"list": "backup-owners", "placeholder": "type a name or email"}
    return forms.CharField(
        max_length=200, required=False, label="Owner", widget=forms.TextInput(attrs=attrs)
    )


def folder_picker() -> forms.CharField:
    """Folder by name, from the backup's folders (the `backup-folders` datalist)."""
    attrs = {"list": "backup-folders", "placeholder": "type a name"}
    return forms.CharField(
        max_length=100, required=False, label="Folder", widget=forms.TextInput(attrs=attrs)
    )


class BackupItemFilterForm(forms.Form):
    content_type = forms.ChoiceField(choices=TYPE_SLUG_CHOICES, required=False, label="Type")
    search = forms.CharField(max_length=200, required=False, label="Name contains")
    owner = owner_picker()
    folder = folder_picker()
    include_deleted = forms.BooleanField(required=False, label="Include deleted")


class DestinationForm(forms.ModelForm):
    """The secret is write-only: never rendered back; left blank on edit it stays unchanged, unless
    the base URL changed: the stored secret is never sent to a URL it was not entered for."""

    base_url = forms.URLField(
        max_length=500, assume_scheme="https", label="Base URL (https://company.looker.com)"
    )
    client_secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the stored secret (not when the URL changes).",
    )

    class Meta:
        model = Destination
        fields = ["name", "base_url", "client_id", "client_secret", "verify_ssl", "timeout"]
        labels = {"base_url": "Base URL (https://company.looker.com)", "client_id": "API client ID"}

    def clean_client_secret(self) -> str:
        secret = self.cleaned_data.get("client_secret") or ""
        if not secret and not self.instance.pk:
            raise forms.ValidationError("A new destination needs its API client secret.")
        return secret

    def clean(self) -> dict:
        cleaned = super().clean()
        url = (cleaned.get("base_url") or "").rstrip("/").lower()
        stored = (self.instance.base_url or "").rstrip("/").lower()
        if self.instance.pk and url and url != stored and not cleaned.get("client_secret"):
            self.add_error(
                "client_secret",
                "The base URL changed: enter the client secret again (the stored secret is "
                "never sent to a new URL).",
            )
        return cleaned

    def save(self, commit: bool = True) -> Destination:
        destination = super().save(commit=False)
        if self.cleaned_data.get("client_secret"):
            destination.set_client_secret(self.cleaned_data["client_secret"])
        if commit:
            destination.save()
        return destination


def split_ids(text: str) -> list[str]:
    """IDs typed by a person: commas, spaces or new lines; `dashboard::42` is accepted as `42`."""
    ids = []
    for part in text.replace(",", " ").split():
        ids.append(part.split("::")[-1])
    return ids


class RestoreForm(forms.Form):
    """Selection + options of a new restore; `config()` gives the validated RestoreConfig."""

    backup = forms.ModelChoiceField(
        queryset=Backup.objects.filter(status=Backup.Status.VERIFIED), empty_label=None
    )
    destination = forms.ModelChoiceField(queryset=Destination.objects.all(), empty_label=None)
    types = forms.MultipleChoiceField(
        choices=RESTORABLE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Content types (none ticked = all)",
    )
    ids = forms.CharField(
        required=False,
        label="IDs (comma or space separated)",
        widget=forms.TextInput(attrs={"placeholder": "e.g. 101, 102"}),
    )
    search = forms.CharField(max_length=200, required=False, label="Name/title contains")
    owner = owner_picker()
    folder = folder_picker()
    include_subfolders = forms.BooleanField(required=False, initial=True, label="With sub-folders")
    updated_after = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Updated from"
    )
    updated_before = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Updated until"
    )
    include_deleted = forms.BooleanField(required=False, label="Include deleted items")
    with_dependencies = forms.BooleanField(
        required=False, label="With dependencies (folders, looks, owners they need)"
    )

    workers = forms.IntegerField(min_value=1, max_value=32, initial=DEFAULTS.workers)
    fanout = forms.IntegerField(
        min_value=1,
        max_value=4,
        required=False,
        initial=DEFAULTS.fanout,
        label="Sub-requests per worker (a dashboard's tiles at once)",
    )
    rate_limit_per_second = forms.FloatField(
        min_value=0.1,
        required=False,
        initial=DEFAULTS.rate_limit_per_second,
        label="Requests per second, a hard ceiling (blank = find what the destination takes)",
    )
    rate_limit_per_minute = forms.FloatField(
        min_value=1, required=False, label="Requests per minute (blank = no limit)"
    )
    max_retries = forms.IntegerField(min_value=0, max_value=50, initial=DEFAULTS.max_retries)
    checkpoint_interval = forms.IntegerField(
        min_value=1,
        max_value=100_000,
        initial=DEFAULTS.checkpoint_interval,
        label="Checkpoint every N items",
    )
    skip_if_modified = forms.BooleanField(
        required=False, label="Skip items changed in the destination since the backup"
    )
    verify = forms.BooleanField(required=False, label="Re-read each item after writing and compare")
    fallback_owner_email = forms.EmailField(
        required=False, label="Fallback owner email (when an owner has no match)"
    )
    instance = forms.ChoiceField(
        choices=[
            ("auto", "Decide from a sample of the destination (recommended)"),
            ("same", "It is the instance the backup came from"),
            ("other", "It is another instance (a migration)"),
        ],
        initial="auto",
        required=False,
        label="Is the destination the instance the backup came from?",
    )
    source = forms.ModelChoiceField(
        queryset=Destination.objects.all(),
        required=False,
        empty_label="None: only what the backup holds",
        label="Source instance (read only)",
        help_text="The registered instance the backup came from. Queries and merge queries the "
        "backup lacks are read from it (never written to it).",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        after, before = data.get("updated_after"), data.get("updated_before")
        if after and before and after > before:
            self.add_error("updated_before", "The end date is before the start date.")
        return data

    def selection(self) -> dict[str, Any]:
        """The selection as the backup reader's Selection takes it (JSON-safe)."""
        d = self.cleaned_data
        selection: dict[str, Any] = {"include_deleted": bool(d.get("include_deleted"))}
        if d.get("types"):
            selection["content_types"] = [ContentType.parse(t).value for t in d["types"]]
        if d.get("ids"):
            selection["ids"] = split_ids(d["ids"])
        for key in ("search", "owner"):
            if d.get(key):
                selection[key] = d[key]
        if d.get("folder"):
            selection["folder_id"] = d["folder"]
            selection["include_subfolders"] = bool(d.get("include_subfolders"))
        if d.get("updated_after"):
            selection["updated_after"] = d["updated_after"].isoformat()
        if d.get("updated_before"):
            selection["updated_before"] = d["updated_before"].isoformat()
        return selection

    def config(self, dry_run: bool) -> RestoreConfig:
        d = self.cleaned_data
        try:
            return RestoreConfig(
                workers=d["workers"],
                fanout=d.get("fanout") or DEFAULTS.fanout,
                rate_limit_per_second=d.get("rate_limit_per_second"),
                rate_limit_per_minute=d.get("rate_limit_per_minute"),
                checkpoint_interval=d["checkpoint_interval"],
                max_retries=d["max_retries"],
                dry_run=dry_run,
                skip_if_modified=bool(d.get("skip_if_modified")),
                with_dependencies=bool(d.get("with_dependencies")),
                verify=bool(d.get("verify")),
                fallback_owner_email=d.get("fallback_owner_email") or None,
                instance=d.get("instance") or "auto",
                source_destination_id=d["source"].pk if d.get("source") else None,
                selection=self.selection(),
            )
        except ValidationError as exc:
            raise forms.ValidationError(str(exc)) from exc


def form_data_from_config(session: RestoreSession) -> dict[str, Any]:
    """Initial data for the restore form that repeats a session (plan → real restore)."""
    config = session.options
    sel = config.selection
    data: dict[str, Any] = {
        "backup": session.backup_id,
        "destination": session.destination_id,
        "types": [ContentType(int(t)).slug for t in sel.get("content_types", [])],
        "ids": ", ".join(str(i) for i in sel.get("ids", [])),
        "search": sel.get("search", ""),
        "owner": sel.get("owner", ""),
        "folder": sel.get("folder_id", ""),
        "include_subfolders": sel.get("include_subfolders", True),
        "updated_after": sel.get("updated_after", ""),
        "updated_before": sel.get("updated_before", ""),
        "include_deleted": sel.get("include_deleted", False),
        "with_dependencies": config.with_dependencies,
        "workers": config.workers,
        "fanout": config.fanout,
        "rate_limit_per_second": config.rate_limit_per_second or "",
        "rate_limit_per_minute": config.rate_limit_per_minute or "",
        "max_retries": config.max_retries,
        "checkpoint_interval": config.checkpoint_interval,
        "skip_if_modified": config.skip_if_modified,
        "verify": config.verify,
        "fallback_owner_email": config.fallback_owner_email or "",
        "instance": config.instance if config.instance != "auto" else "",
        "source": config.source_destination_id,
    }
    return {k: v for k, v in data.items() if v not in (None, False, "", [])}


def content_type_filter() -> forms.TypedChoiceField:
    """The optional "Type" filter of the list pages (results, DLQ, ID mappings)."""
    return forms.TypedChoiceField(
        choices=[("", "All types")] + CONTENT_TYPE_CHOICES,
        coerce=int,
        required=False,
        empty_value=None,
        label="Type",
    )


class ResultFilterForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("", "All actions")] + list(RestoreItemResult.Action.choices), required=False
    )
    content_type = content_type_filter()
    q = forms.CharField(max_length=200, required=False, label="ID or name")


class DLQFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status")] + list(DeadLetterItem.Status.choices),
        required=False,
        initial=DeadLetterItem.Status.OPEN,
    )
    session = forms.IntegerField(
        required=False, min_value=1, widget=forms.NumberInput(attrs={"list": "dlq-sessions"})
    )
    content_type = content_type_filter()
    error_class = forms.CharField(
        max_length=200,
        required=False,
        label="Error class",
        widget=forms.TextInput(attrs={"list": "dlq-error-classes", "autocomplete": "off"}),
    )
    http_status = forms.IntegerField(
        required=False, min_value=0, max_value=999, label="HTTP status"
    )
    failed_after = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Failed from"
    )
    failed_before = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Failed until"
    )
    q = forms.CharField(max_length=200, required=False, label="Search (ID, name, message)")

    def filter(self, queryset):
        """Apply the filters. A filter that does not validate matches nothing: falling back to
        fewer filters would widen what a bulk action reaches (every open item of every session)."""
        if self.is_bound and not self.is_valid():
            return queryset.none()
        d = self.cleaned_data if self.is_bound else {"status": DeadLetterItem.Status.OPEN}
        if d.get("status"):
            queryset = queryset.filter(status=d["status"])
        if d.get("session"):
            queryset = queryset.filter(session_id=d["session"])
        if d.get("content_type") is not None:
            queryset = queryset.filter(content_type=d["content_type"])
        if d.get("error_class"):
            queryset = queryset.filter(error_class=d["error_class"])
        if d.get("http_status") is not None:
            queryset = queryset.filter(http_status=d["http_status"] or None)
        if d.get("failed_after"):
            queryset = queryset.filter(failed_at__date__gte=d["failed_after"])
        if d.get("failed_before"):
            queryset = queryset.filter(failed_at__date__lte=d["failed_before"])
        if d.get("q"):
            from django.db.models import Q

            q = d["q"]
            queryset = queryset.filter(
                Q(content_id=q.split("::")[-1])
                | Q(name__icontains=q)
                | Q(error_message__icontains=q)
            )
        return queryset

    def error_text(self) -> str:
        """The filter's errors in one line ("HTTP status: Ensure this value is less than …")."""
        return "; ".join(
            f"{self[name].label if name in self.fields else 'Filter'}: {' '.join(errs)}"
            for name, errs in self.errors.items()
        )


class ResolveForm(forms.Form):
    note = forms.CharField(
        max_length=2000,
        required=True,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Why does it need no restore? (required; kept in the history)",
    )


_PLAIN = Q(config__plan_session_id__isnull=True) | Q(config__plan_session_id=None)
HISTORY_KINDS = {
    "restore": ("Restores", Q(kind="restore", dry_run=False) & _PLAIN),
    "plan": ("Plans", Q(kind="restore", dry_run=True)),
    "apply": ("Applied plans", Q(kind="restore", dry_run=False) & ~_PLAIN),
    "rollback": ("Rollbacks", Q(kind="rollback", dry_run=False)),
    "preview": ("Rollback previews", Q(kind="rollback", dry_run=True)),
    "retry": ("Retries", Q(kind="retry")),
}


class HistoryFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status")] + list(RestoreSession.Status.choices), required=False
    )
    # One filter for what a session is (a plan is a dry-run restore, an apply a restore of a plan).
    kind = forms.ChoiceField(
        choices=[("", "Any kind"), *((k, label) for k, (label, _) in HISTORY_KINDS.items())],
        required=False,
    )
    destination = forms.ModelChoiceField(
        queryset=Destination.objects.all(), required=False, empty_label="Any destination"
    )
    user = forms.CharField(max_length=150, required=False, label="Who (username)")
    item = forms.CharField(max_length=200, required=False, label="Item (name or ID)")
    started_after = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From"
    )
    started_before = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Until"
    )

    def filter(self, queryset):
        if not self.is_valid():
            return queryset
        d = self.cleaned_data
        for key in ("status", "destination"):
            if d.get(key):
                queryset = queryset.filter(**{key: d[key]})
        if d.get("kind"):
            queryset = queryset.filter(HISTORY_KINDS[d["kind"]][1])
        if d.get("user"):
            queryset = queryset.filter(started_by__username__icontains=d["user"].strip())
        if d.get("item"):
            queryset = queryset.filter(pk__in=sessions_with_item(d["item"]))
        if d.get("started_after"):
            queryset = queryset.filter(created_at__date__gte=d["started_after"])
        if d.get("started_before"):
            queryset = queryset.filter(created_at__date__lte=d["started_before"])
        return queryset


def sessions_with_item(text: str) -> Any:
    """Sessions that did something to an item of this name (part of it) or ID (`look::7` too)."""
    text = text.strip()
    rows = RestoreItemResult.objects.filter(
        Q(name__icontains=text) | Q(source_id=text.split("::")[-1])
    )
    return rows.values("session_id")


class MappingFilterForm(forms.Form):
    content_type = content_type_filter()
    q = forms.CharField(max_length=255, required=False, label="Source or destination ID")
