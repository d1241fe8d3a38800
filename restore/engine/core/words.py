"""Plural-aware counts for every message a user reads ("1 item", "3 items", never "item(s)")."""

from __future__ import annotations


def plural(n: int, word: str, many: str = "") -> str:
    """`plural(1, "retry", "retries")` → "1 retry"; the plural defaults to word + "s"."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"
