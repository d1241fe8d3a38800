"""A failure in the words of the person who acts on it: what Looker's answer means and what to do
("403: the API user's role cannot read looks — fix the role in Looker, then Retry"). The error
class, the request and the stack trace stay on the page for engineers, folded, with no path of
the server the app runs on."""

from __future__ import annotations

import json
import re
from typing import Any

from restore.engine import ContentType

VERBS = {"GET": "read", "POST": "create", "PATCH": "change", "PUT": "change", "DELETE": "delete"}
SAFE_TO_RETRY = "safe to retry"
SHORT = 160  # characters of Looker's own message shown in the sentence


def explain(
    status: int | None,
    error_class: str,
    message: str,
    *,
    content_type: int | None = None,
    method: str = "",
    body: str = "",
) -> str:
    """One sentence: the HTTP status (when there is one), what it means, what to do."""
    things = _plural(content_type)
    verb = VERBS.get((method or "").upper(), "use")
    if status == 401:
        return (
            "401: Looker refused the API credentials — "
            "check the destination's client ID and secret, then Retry"
        )
    if status == 403:
        return (
            f"403: the API user's role cannot {verb} {things} — fix the role in Looker, then Retry"
        )
    if status == 404:
        return (
            f"404: Looker has none of these {things} (deleted since?) — check in Looker, then Retry"
        )
    if status == 409:
        return (
            f"409: Looker already holds {things} of that name or slug — "
            "rename or remove one in Looker, then Retry"
        )
    if status == 413:
        return "413: the object is too large for the Looker API — it cannot be restored as it is"
    if status == 422:
        reason = _refused(body) or _first_line(message)
        if not reason or reason.lower() == "unprocessable entity":
            reason = "it gave no reason — compare the item with what Looker accepts"
        return f"422: Looker refused this data: {reason}"
    if status == 429:
        return f"429: Looker asked us to slow down — {SAFE_TO_RETRY}"
    if status is not None and status >= 500:
        return f"{status}: Looker failed — {SAFE_TO_RETRY}"
    if error_class.endswith(" connection"):
        return f"Looker could not be reached — {SAFE_TO_RETRY} once it answers"
    if error_class.endswith(" timeout"):
        return f"Looker did not answer in time — {SAFE_TO_RETRY}"
    if error_class == "MissingDependencyError":
        return f"Something it refers to is missing: {_first_line(message)}"
    return _first_line(message) or error_class


def explain_item(item: Any) -> str:
    """A dead-letter item's failure in words."""
    return explain(
        item.http_status,
        item.error_class or "",
        item.error_message or "",
        content_type=item.content_type,
        method=item.request_method,
        body=item.response_body or "",
    )


# How a recorded result states a Looker API error (`LookerApiError.__str__`): the status or kind
# and the request close its first line; Looker's answer follows on the next lines.
_REQUEST = re.compile(r"\((\d{3}|timeout|connection) on ([A-Z]+) \S+\)$")
_STATUS = re.compile(r"^Looker API (\d{3}):")


def explain_result(message: str, content_type: int | None = None) -> str:
    """A failed result row's message (as the run records it: the error, then Looker's answer)
    in the same words as its dead letter's."""
    first, _, answer = (message or "").strip().partition("\n")
    request = _REQUEST.search(first)
    stated = _STATUS.match(first)
    kind = request.group(1) if request else (stated.group(1) if stated else "")
    return explain(
        int(kind) if kind.isdigit() else None,
        f"LookerApiError {kind}" if kind else "",
        first,
        content_type=content_type,
        method=request.group(2) if request else "",
        body=answer,
    )


def _plural(content_type: int | None) -> str:
    if content_type is None:
        return "this content"
    try:
        words = ContentType(int(content_type)).slug.replace("_", " ")
    except ValueError:
        return "this content"
    return words if words.endswith("s") else f"{words}s"


def _refused(body: str) -> str:
    """ "field title: can't be blank; …" from Looker's validation answer, else ""."""
    try:
        doc = json.loads(body or "")
    except ValueError:
        return ""
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for e in errors[:5]:
        if isinstance(e, dict):
            field = e.get("field") or "?"
            parts.append(f"field {field}: {e.get('message') or e.get('code') or 'invalid'}")
    return "; ".join(parts)


def _first_line(message: str) -> str:
    """The message without the request appended to it ("… (403 on GET /api/4.0/looks/432)")."""
    line = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    line = re.sub(r"\s*\(\d{3} on [A-Z]+ \S+\)$", "", line)
    line = re.sub(r"^Looker API \d{3}: ", "", line)
    # A sentence, not a dump: the whole message is in the folded details for engineers.
    return line if len(line) <= SHORT else line[: SHORT - 1].rstrip() + "…"


# A traceback line `File "/srv/app/.venv/lib/python3.13/site-packages/x/y.py", line 3` names a
# path on the server: shown as the module's own path inside the project or its package.
_FILE = re.compile(r'File "([^"]+)"')
_ROOTS = ("site-packages/", "dist-packages/", "/restore/", "/looker_emulator/", "/lookervault_web/")


def trace_without_paths(trace: str) -> str:
    """The stack trace with every file named from its package, never by the server's path."""
    return _FILE.sub(lambda m: f'File "{_short(m.group(1))}"', trace or "")


def _short(path: str) -> str:
    for root in _ROOTS:
        at = path.rfind(root)
        if at >= 0:
            start = at + len(root) if root.endswith("-packages/") else at + 1
            return path[start:]
    return path.rsplit("/", 1)[-1]
