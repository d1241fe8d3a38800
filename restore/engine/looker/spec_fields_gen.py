"""Generate `spec_fields.json`: the writable fields of every request-body schema the engine sends.

    python -m restore.engine.looker.spec_fields_gen ../shared/looker-api/Looker.4.0.oas.json

The engine never reads the spec at run time; tests check that the generated file matches the spec.
Format: {schema: {field: nested}} where nested is "" for a scalar, "Name" for an object of schema Name
and "Name[]" for an array of them. A field is writable unless the spec marks it `readOnly`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("spec_fields.json")

# Request-body schemas of the operations the engine calls.
ROOTS = (
    "Dashboard",
    "DashboardElement",
    "CreateDashboardFilter",
    "DashboardFilter",
    "DashboardLayout",
    "DashboardLayoutComponent",
    "Query",
    "LookWithQuery",
    "CreateFolder",
    "UpdateFolder",
    "User",
    "CredentialsEmail",
    "Group",
    "Role",
    "PermissionSet",
    "ModelSet",
    "LookmlModel",
    "Board",
    "BoardSection",
    "BoardItem",
    "ScheduledPlan",
    "MergeQuery",
)


def _nested(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    items = prop.get("items") or {}
    if prop.get("type") == "array" and "$ref" in items:
        return items["$ref"].rsplit("/", 1)[-1] + "[]"
    return ""


def writable_fields(spec: dict[str, Any]) -> dict[str, dict[str, str]]:
    schemas = spec["components"]["schemas"]
    out: dict[str, dict[str, str]] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        props = schemas[name].get("properties", {})
        fields = {k: _nested(v) for k, v in props.items() if not v.get("readOnly")}
        out[name] = fields
        todo.extend(n.removesuffix("[]") for n in fields.values() if n)
    return dict(sorted(out.items()))


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    OUT.write_text(json.dumps(writable_fields(spec), indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
