"""Looker-shaped API errors raised by handlers and turned into responses by the server."""

from __future__ import annotations

from typing import Any

from looker_emulator.spec import DOC_ROOT


class ApiError(Exception):
    """An HTTP error answer: status, Looker's message, optional validation details."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[tuple[str, str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}

    def body(self, doc_url: str) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "documentation_url": doc_url}
        if self.errors or self.status == 422:
            out["errors"] = [
                {"field": f, "code": c, "message": m, "documentation_url": doc_url}
                for f, c, m in self.errors
            ]
        return out


def not_found() -> ApiError:
    return ApiError(404, "Not found")


def validation_failed(errors: list[tuple[str, str, str]]) -> ApiError:
    return ApiError(422, "Validation Failed", errors)


def generic_doc_url(status: int) -> str:
    return f"{DOC_ROOT}/{status}"
