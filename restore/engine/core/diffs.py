"""Field-level differences between what a restore would send and what the destination holds."""

from __future__ import annotations

import datetime as dt
from typing import Any


def _norm(value: Any) -> Any:
    # Looker answers "" and null interchangeably for unset strings; lists compare in order.
    if value == "":
        return None
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def same(wanted: Any, current: Any) -> bool:
    """True when `current` already holds `wanted` (nested dicts: only the wanted keys count)."""
    if wanted == current:  # equal values stay equal once normalised: most fields of an update
        return True
    if isinstance(wanted, dict) and isinstance(current, dict):
        return all(same(v, current.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list) and isinstance(current, list):
        return len(wanted) == len(current) and all(
            same(w, c) for w, c in zip(wanted, current, strict=True)
        )
    return _norm(wanted) == _norm(current)


def fields_moved(expected: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The fields of `current` that hold none of the values expected of them ({field: accepted
    values}): what changed in the destination since a plan or a restore looked. Fields the
    destination does not answer are not compared."""
    return [
        name
        for name, values in expected.items()
        if name in current and not any(same(v, current[name]) for v in values)
    ]


def field_diff(wanted: dict[str, Any], current: dict[str, Any] | None) -> dict[str, list[Any]]:
    """{field: [destination value, backup value]} for every wanted field that differs."""
    current = current or {}
    return {k: [current.get(k), v] for k, v in wanted.items() if not same(v, current.get(k))}


def instant(value: Any) -> str | None:
    """A timestamp as UTC ISO with milliseconds, whatever form it came in (a msgpack timestamp
    decoded as `datetime`, `…Z`, `…+00:00`, a naive string): equal moments compare equal."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")
