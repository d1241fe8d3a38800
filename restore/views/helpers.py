"""Small helpers shared by the views: pagination without COUNT(*), htmx partials, JSON display."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

PER_PAGE = 50


@dataclass
class Page:
    """One page of a list; `has_next` comes from fetching one row more, never from a COUNT(*)."""

    items: list
    number: int
    has_next: bool
    query: dict[str, str] = field(default_factory=dict)
    total: int | None = None  # when known without a COUNT(*) (a backup's verified counts)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def start(self) -> int:
        return (self.number - 1) * PER_PAGE + 1 if self.items else 0

    @property
    def end(self) -> int:
        return self.start + len(self.items) - 1 if self.items else 0

    def _url(self, number: int) -> str:
        return "?" + urlencode({**self.query, "page": number})

    @property
    def next_url(self) -> str:
        return self._url(self.number + 1)

    @property
    def previous_url(self) -> str:
        return self._url(self.number - 1)


def page_number(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("page", "1")), 100_000))
    except ValueError:
        return 1


def filter_query(request: HttpRequest) -> dict[str, str]:
    """The current filters (every GET parameter but the page), to carry into page links."""
    return {k: v for k, v in request.GET.items() if k != "page" and v != ""}


def paginate(request: HttpRequest, rows, per_page: int = PER_PAGE) -> Page:
    """Slice a queryset (or any sliceable sequence) to the requested page, fetching one extra row."""
    number = page_number(request)
    offset = (number - 1) * per_page
    items = list(rows[offset : offset + per_page + 1])
    return Page(items[:per_page], number, len(items) > per_page, filter_query(request))


def render_page(
    request: HttpRequest, template: str, partial: str, context: dict[str, Any], **kwargs
) -> HttpResponse:
    """Render the full page, or only its partial when htmx asks (no layout, no extra queries)."""
    if request.htmx and not request.htmx.boosted:
        return render(request, partial, context, **kwargs)
    return render(request, template, context, **kwargs)


def pretty_json(value: Any) -> str:
    """Indented JSON for display; anything not JSON-serialisable is shown through str()."""
    if value is None or value == "":
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = decode_blob(bytes(value))
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def decode_blob(blob: bytes) -> Any:
    """A lookervault content blob is msgpack; show it decoded, or say that it cannot be."""
    if not blob:
        return None
    import msgspec

    try:
        return msgspec.msgpack.decode(blob)
    except msgspec.DecodeError:
        try:
            return json.loads(blob)
        except ValueError:
            return f"<{len(blob)} bytes that are neither msgpack nor JSON>"


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The `next` the form carried when it points into this site, else `fallback` (never off-site)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else fallback


# Spreadsheets run cells starting with these as formulas (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a leading formula character gets a quote before it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralised_csv(text: str) -> str:
    """A whole CSV document with every cell as `csv_cell` makes it (the summary's error classes
    and type names are data too)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv.reader(io.StringIO(text)):
        writer.writerow([csv_cell(cell) for cell in row])
    return out.getvalue()
