"""Small display filters for the restore templates."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def words(value: object) -> str:
    """`lookml_model` → `lookml model`, `rate_per_second` → `rate per second`."""
    return str(value).replace("_", " ")


@register.filter
def duration(seconds: object) -> str:
    """45 → `45 s`, 200 → `3 min 20 s`, 3900 → `1 h 5 min`."""
    try:
        total = int(round(float(seconds)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
