"""An independent, test-side check that request bodies are valid against the OpenAPI spec.

Written from the spec's own rules (not the emulator's code): the body's schema is the operation's
requestBody; every field must be a property of it, not readOnly, of the declared type (nullable
allowed), recursively through $ref objects and arrays; required fields must be there on POST.
"""

from __future__ import annotations

import json
import re
import threading
from functools import cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "looker-api" / "Looker.4.0.oas.json"
TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


@cache
def routes() -> list[tuple[str, re.Pattern[str], dict[str, Any]]]:
    out = []
    for path, ops in spec()["paths"].items():
        pattern = re.compile("^/api/4.0" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method, op in ops.items():
            if isinstance(op, dict) and "operationId" in op:
                out.append((method.upper(), pattern, op))
    # literal segments beat parameters (/users/search before /users/{id})
    out.sort(key=lambda r: r[1].pattern.count("[^/]+"))
    return out


def operation(method: str, path: str) -> dict[str, Any] | None:
    for m, pattern, op in routes():
        if m == method and pattern.match(path):
            return op
    return None


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def check_value(schema: dict[str, Any], value: Any, where: str, errors: list[str]) -> None:
    schema = _resolve(schema)
    if value is None:
        if not schema.get("nullable") and schema.get("type") not in (None, "object"):
            errors.append(f"{where}: null for non-nullable {schema.get('type')}")
        return
    kind = schema.get("type") or ("object" if "properties" in schema else None)
    if kind in TYPES:
        ok = isinstance(value, TYPES[kind]) and not (
            kind in ("integer", "number") and isinstance(value, bool)
        )
        if not ok:
            errors.append(f"{where}: expected {kind}, got {type(value).__name__}")
            return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not one of {schema['enum']}")
    if kind == "array":
        for i, v in enumerate(value):
            check_value(schema.get("items") or {}, v, f"{where}[{i}]", errors)
    elif kind == "object" and "properties" in schema:
        props = schema["properties"]
        # A schema whose every field is readOnly (GroupIdForGroupUserInclusion) is a spec quirk:
        # those fields are the operation's input.
        all_read_only = all(p.get("readOnly") for p in props.values())
        for name, v in value.items():
            prop = props.get(name)
            if prop is None:
                errors.append(f"{where}.{name}: not a field")
            elif prop.get("readOnly") and not all_read_only and not erratum(f"{where}.{name}"):
                errors.append(f"{where}.{name}: read-only")
            else:
                check_value(prop, v, f"{where}.{name}", errors)


def erratum(where: str) -> bool:
    """A read-only field that Looker accepts (looker_emulator.validation.SPEC_ERRATA)."""
    return re.search(r"\.result_maker\.filterables\[\d+\]\.listen$", where) is not None


def check_request(method: str, url: str, body: Any) -> list[str]:
    path = re.sub(r"^https?://[^/]+", "", url).split("?")[0]
    op = operation(method, path)
    if op is None:
        return [f"{method} {path}: no such operation in the spec"]
    if body is None or body == "<form>":
        return []
    content = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
    if content is None:
        return [f"{method} {path}: the operation takes no JSON body"]
    errors: list[str] = []
    schema = content["schema"]
    check_value(schema, body, f"{op['operationId']}", errors)
    resolved = _resolve(schema)
    if method == "POST" and isinstance(body, dict):
        for name in resolved.get("required") or []:
            if body.get(name) is None:
                errors.append(f"{op['operationId']}.{name}: required")
    return errors


class SpecRecorder:
    """A LookerClient observer: validates every request and counts them by method."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, method: str, url: str, body: Any) -> None:
        problems = check_request(method, url, body)
        with self._lock:
            self.requests.append((method, url))
            self.errors.extend(problems)

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET" and not r[1].endswith("/login")]
