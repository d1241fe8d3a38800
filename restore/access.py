"""Role checks for views: one decorator, so every action is refused on the server, not just hidden."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied


def require_perm(perm: str) -> Callable:
    """Refuse (403) unless the logged-in user holds `perm` (LoginRequiredMiddleware did the login)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.has_perm(perm):
                raise PermissionDenied(f"Your role does not allow this ({perm.split('.')[-1]}).")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
