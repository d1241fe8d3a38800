"""Request bodies checked against the spec's schemas, the way Looker answers 422.

Strict mode (the default) also rejects read-only and unknown fields, so a client that sends back a GET
response unchanged learns it at once instead of silently writing fields it did not mean to.
"""

from __future__ import annotations

from typing import Any

from looker_emulator.spec import FieldSpec, ModelSpec, Spec

# Fields the spec marks read-only that Looker accepts in a request, and needs: a tile's filter
# listeners are set through `result_maker.filterables[].listen` (the spec's readOnly is "an API
# mapper bug", github.com/looker-open-source/sdk-codegen/issues/926; create_dashboard_element with
# listen answers 200 on Looker).
SPEC_ERRATA: frozenset[tuple[str, str]] = frozenset({("ResultMakerFilterables", "listen")})

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _type_ok(value: Any, ftype: str) -> bool:
    if ftype in ("any", ""):
        return True
    if isinstance(value, bool) and ftype in ("integer", "number"):
        return False
    return isinstance(value, _PY_TYPES.get(ftype, (object,)))


def validate_model(
    spec: Spec, model: ModelSpec, body: Any, *, strict: bool, prefix: str = ""
) -> list[tuple[str, str, str]]:
    """Return (field, code, message) for each problem of body against model."""
    if not isinstance(body, dict):
        return [(prefix.rstrip(".") or "body", "invalid", "must be a JSON object")]
    errors: list[tuple[str, str, str]] = []
    fields = model.fields
    for name, value in body.items():
        where = prefix + name
        fspec = fields.get(name)
        if fspec is None:
            if strict:
                errors.append((where, "unknown", f"is not a field of {model.name}"))
            continue
        if fspec.read_only and (model.name, name) not in SPEC_ERRATA:
            if strict:
                errors.append((where, "read_only", "is read-only and cannot be set"))
            continue
        if value is None:
            # Looker takes null as "unset" even where the spec says nullable: false (backups of
            # real instances carry such nulls); required fields are checked separately.
            continue
        if not _type_ok(value, fspec.type):
            errors.append((where, "invalid", f"must be of type {fspec.type}"))
            continue
        if fspec.ref and fspec.ref in spec.models:
            errors.extend(
                validate_model(
                    spec, spec.models[fspec.ref], value, strict=strict, prefix=where + "."
                )
            )
        elif fspec.type == "array":
            errors.extend(_validate_items(spec, fspec, value, strict=strict, where=where))
    return errors


def _validate_items(
    spec: Spec, fspec: FieldSpec, value: list[Any], *, strict: bool, where: str
) -> list[tuple[str, str, str]]:
    """The problems of an array field's items (nulls are allowed, as Looker allows them)."""
    errors: list[tuple[str, str, str]] = []
    for i, item in enumerate(value):
        if item is None:
            continue
        if not _type_ok(item, fspec.items_type or "any"):
            errors.append((f"{where}[{i}]", "invalid", f"must be of type {fspec.items_type}"))
        elif fspec.items_ref and fspec.items_ref in spec.models:
            item_model = spec.models[fspec.items_ref]
            errors.extend(
                validate_model(spec, item_model, item, strict=strict, prefix=f"{where}[{i}].")
            )
    return errors


def validate_array_of_strings(body: Any) -> list[tuple[str, str, str]]:
    """Bodies of PUT /users/{id}/roles and friends: a JSON array of ID strings."""
    if not isinstance(body, list):
        return [("body", "invalid", "must be a JSON array")]
    return [
        (f"[{i}]", "invalid", "must be of type string")
        for i, v in enumerate(body)
        if not isinstance(v, str)
    ]
