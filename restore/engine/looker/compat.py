"""Destination compatibility: read GET /versions once per session; never send what it lacks.

Our field lists come from the spec of API 4.0 release SPEC_RELEASE. When the destination runs another
release, its own spec (the `swagger_url` /versions names) says which fields its request bodies have;
fields it lacks are dropped from every body with one warning per schema and field, instead of failing
item after item with 422s. A destination without API 4.0 stops the session before any write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from restore.engine.core.errors import LookerApiError, RestoreError
from restore.engine.looker.payloads import spec_fields

SPEC_RELEASE = "26.12.3"


@dataclass
class Compatibility:
    release: str
    # schema -> fields the destination's spec has (None: same release or unknown → all of ours)
    fields: dict[str, frozenset[str]] | None = None
    notes: list[str] = field(default_factory=list)

    def missing(self, schema: str, body: dict[str, Any]) -> list[str]:
        if self.fields is None or schema not in self.fields:
            return []
        return [k for k in body if k not in self.fields[schema]]

    def filter(self, schema: str, body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The body without fields the destination does not have, and warnings naming them."""
        gone = self.missing(schema, body)
        if not gone:
            return body, []
        kept = {k: v for k, v in body.items() if k not in gone}
        return kept, [
            f"destination Looker {self.release} has no {schema}.{name}: not sent" for name in gone
        ]


def check_compatibility(client: Any) -> Compatibility:
    versions = client.versions()
    supported = {str(v.get("version")) for v in versions.get("supported_versions") or []}
    if supported and "4.0" not in supported:
        raise RestoreError(
            f"destination does not offer API 4.0 (it offers {', '.join(sorted(supported))})"
        )
    release = str(versions.get("looker_release_version") or "unknown")
    compat = Compatibility(release)
    if release == SPEC_RELEASE:
        return compat
    url = (versions.get("current_version") or {}).get("swagger_url")
    try:
        spec = client.get(url) if url else None
    except LookerApiError as exc:
        spec = None
        compat.notes.append(
            f"cannot read the destination's API spec ({exc}); using release {SPEC_RELEASE}"
        )
    if isinstance(spec, dict):
        compat.fields = fields_of(spec)
    return compat


def fields_of(spec: dict[str, Any]) -> dict[str, frozenset[str]]:
    """Per schema we send: the property names the given spec has."""
    schemas = (spec.get("components") or {}).get("schemas") or spec.get("definitions") or {}
    return {
        name: frozenset((schemas[name].get("properties") or {}).keys())
        for name in spec_fields()
        if name in schemas
    }
