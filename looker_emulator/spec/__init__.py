"""Looker's OpenAPI spec, loaded once: the emulator's contract.

The emulator derives from it (never from hand-written lists) which fields of each model are writable and
which are read-only, the field types request bodies are checked against, and the routes that exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

SPEC_PATH = Path(__file__).resolve().parent / "Looker.4.0.oas.json"
API_PREFIX = "/api/4.0"
DOC_ROOT = "https://cloud.google.com/looker/docs/r/err/4.0"

_PARAM = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One property of a schema: its JSON type and whether a client may send it."""

    name: str
    type: str  # string, integer, number, boolean, array, object, any
    read_only: bool
    nullable: bool
    ref: str | None = None  # schema name when the property is a nested model
    items_type: str | None = None
    items_ref: str | None = None


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A schema of components/schemas with its fields split into writable and read-only."""

    name: str
    fields: dict[str, FieldSpec]
    required: tuple[str, ...]

    @property
    def writable(self) -> frozenset[str]:
        return frozenset(n for n, f in self.fields.items() if not f.read_only)

    @property
    def read_only(self) -> frozenset[str]:
        return frozenset(n for n, f in self.fields.items() if f.read_only)


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of the spec: method, path template, operationId, body and response schemas."""

    method: str
    template: str  # e.g. /dashboards/{dashboard_id} (relative to /api/4.0)
    operation_id: str
    params: tuple[str, ...]
    segments: tuple[str | None, ...]  # None where the template has a parameter
    body_schema: str | None  # components/schemas name of the JSON body
    body_is_array: bool
    query_params: frozenset[str]
    response_schema: str | None
    response_is_array: bool

    @property
    def doc_path(self) -> str:
        """The path as Looker's error documentation spells it: /dashboards/:dashboard_id."""
        return _PARAM.sub(r":\1", self.template)

    def doc_url(self, status: int) -> str:
        return f"{DOC_ROOT}/{status}/{self.method.lower()}{self.doc_path}"


def _ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def _field(name: str, node: dict[str, Any]) -> FieldSpec:
    ref = _ref_name(node)
    ftype = "object" if ref else node.get("type", "any")
    items_type = items_ref = None
    if ftype == "array":
        items = node.get("items", {})
        items_ref = _ref_name(items)
        items_type = "object" if items_ref else items.get("type", "any")
    return FieldSpec(
        name=name,
        type=ftype,
        read_only=bool(node.get("readOnly")),
        nullable=bool(node.get("nullable", True)),
        ref=ref,
        items_type=items_type,
        items_ref=items_ref,
    )


@dataclass(slots=True)
class Spec:
    """Parsed spec: models by schema name, routes indexed for fast matching."""

    version: str
    release: str
    models: dict[str, ModelSpec]
    routes: list[Route]
    _index: dict[tuple[str, int], list[Route]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for route in self.routes:
            self._index.setdefault((route.method, len(route.segments)), []).append(route)
        for routes in self._index.values():
            # Static segments win over parameters: /dashboards/search before /dashboards/{id}.
            routes.sort(key=lambda r: [s is None for s in r.segments])

    def model(self, name: str) -> ModelSpec:
        return self.models[name]

    def route(self, operation_id: str) -> Route:
        for route in self.routes:
            if route.operation_id == operation_id:
                return route
        raise KeyError(operation_id)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """Find the operation for METHOD + path (relative to /api/4.0) and its path parameters."""
        parts = path.strip("/").split("/") if path.strip("/") else []
        for route in self._index.get((method, len(parts)), ()):
            values: list[str] = []
            for seg, part in zip(route.segments, parts, strict=True):
                if seg is None:
                    if not part:
                        break
                    values.append(part)
                elif seg != part:
                    break
            else:
                return route, dict(zip(route.params, values, strict=True))
        return None

    def path_exists(self, path: str) -> bool:
        """True when some method serves this path (used to answer 405 vs 404)."""
        return any(self.match(m, path) for m in ("GET", "POST", "PATCH", "PUT", "DELETE"))


def _schema_of(content: dict[str, Any] | None) -> tuple[str | None, bool]:
    if not content:
        return None, False
    schema = content.get("application/json", {}).get("schema", {})
    if schema.get("type") == "array":
        return _ref_name(schema.get("items", {})), True
    return _ref_name(schema), False


@cache
def load_spec(path: Path = SPEC_PATH) -> Spec:
    """Parse the spec file once per process."""
    raw = msgspec.json.decode(path.read_bytes())
    models = {}
    for name, node in raw["components"]["schemas"].items():
        props = node.get("properties", {})
        models[name] = ModelSpec(
            name=name,
            fields={k: _field(k, v) for k, v in props.items()},
            required=tuple(node.get("required", ())),
        )
    routes = []
    for template, ops in raw["paths"].items():
        for method, op in ops.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            body_schema, body_is_array = _schema_of((op.get("requestBody") or {}).get("content"))
            if op.get("requestBody") and body_schema is None and body_is_array is False:
                schema = op["requestBody"]["content"].get("application/json", {}).get("schema", {})
                body_is_array = schema.get("type") == "array"
            ok = op["responses"].get("200") or op["responses"].get("204") or {}
            response_schema, response_is_array = _schema_of(ok.get("content"))
            segments = tuple(
                None if s.startswith("{") else s for s in template.strip("/").split("/")
            )
            routes.append(
                Route(
                    method=method.upper(),
                    template=template,
                    operation_id=op["operationId"],
                    params=tuple(_PARAM.findall(template)),
                    segments=segments,
                    body_schema=body_schema,
                    body_is_array=body_is_array,
                    query_params=frozenset(
                        p["name"] for p in op.get("parameters", ()) if p.get("in") == "query"
                    ),
                    response_schema=response_schema,
                    response_is_array=response_is_array,
                )
            )
    info = raw["info"]
    return Spec(
        version=info["version"],
        release=info.get("x-looker-release-version", info["version"]),
        models=models,
        routes=routes,
    )
