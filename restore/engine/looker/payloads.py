"""Request bodies from backup objects: only the spec's writable fields, never a read-only one.

The writable fields per schema come from `spec_fields.json` (generated from the OpenAPI spec by
`spec_fields_gen`). Fields the engine sends through their own requests or translates itself (nested
folder/model/user objects, sub-resources, IDs of other instances) are left out per schema.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SPEC_FIELDS_PATH = Path(__file__).with_name("spec_fields.json")

# Writable in the spec but not sent from a backup object, and why.
NEVER_SENT: dict[str, frozenset[str]] = {
    # nested read views of the folder/model/owner: the *_id fields carry the reference
    "Dashboard": frozenset({"folder", "model", "certification_metadata", "lookml_link_id"}),
    "LookWithQuery": frozenset({"folder", "model", "query", "certification_metadata"}),
    # the element's look/query objects are views; the engine creates the query and sends query_id
    "DashboardElement": frozenset(
        {"look", "query", "result_maker", "result_maker_id", "certification_metadata"}
    ),
    # a query's client_id is unique per query in an instance: a new query gets a new one
    "Query": frozenset({"client_id"}),
    # credentials other than email are provisioned by the identity provider, not restored
    "User": frozenset(
        {
            "credentials_google",
            "credentials_ldap",
            "credentials_looker_openid",
            "credentials_oidc",
            "credentials_saml",
            "credentials_totp",
            "credentials_workforce",
            "credentials_email",
            "models_dir_validated",
        }
    ),
    "Role": frozenset({"permission_set", "model_set"}),
    "ScheduledPlan": frozenset({"user"}),
    "Board": frozenset({"section_order"}),  # follows the sections as they are created
    "BoardSection": frozenset({"item_order"}),
}


@cache
def spec_fields() -> dict[str, dict[str, str]]:
    return json.loads(SPEC_FIELDS_PATH.read_text())


def writable_names(schema: str) -> frozenset[str]:
    return frozenset(spec_fields()[schema])


def writable(schema: str, obj: dict[str, Any], *, exclude: frozenset[str] = frozenset()) -> dict:
    """The writable fields of `obj` for `schema`, nested objects filtered by their own schema,
    in the spec's order."""
    out: dict[str, Any] = {}
    for name, nested in _sent_fields(schema, exclude):
        if name in obj:
            value = obj[name]
            out[name] = value if value is None or not nested else _nested_value(nested, value)
    return out


@cache
def _sent_fields(schema: str, exclude: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """(name, nested schema) of the fields `writable` sends: worked out once per schema and
    exclusion (a restore filters each of thousands of tiles, queries and filters this way)."""
    skip = NEVER_SENT.get(schema, frozenset()) | exclude
    return tuple((n, nested) for n, nested in spec_fields()[schema].items() if n not in skip)


def _nested_value(nested: str, value: Any) -> Any:
    if nested.endswith("[]"):
        inner = nested[:-2]
        return [writable(inner, v) if isinstance(v, dict) else v for v in value]
    return writable(nested, value) if isinstance(value, dict) else value


def query_body(query: dict[str, Any]) -> dict[str, Any]:
    """A create_query body from a backup's embedded query."""
    return writable("Query", query)


def user_email(user: dict[str, Any]) -> str | None:
    """A backup user's email (top-level `email` or its email credentials)."""
    creds = user.get("credentials_email") or {}
    return user.get("email") or creds.get("email")
