"""The real looker-sdk pointed at an emulator, for the emulator's tests.

The SDK is configured from a dict (never LOOKERSDK_* environment variables), its error-documentation
lookups (outbound HTTP) are switched off, and its transport keeps each response's status and headers
so tests can assert on them.
"""

from __future__ import annotations

from typing import Any

import looker_sdk
import requests
from looker_sdk.rtl import api_settings, auth_session, requests_transport, serialize, transport
from looker_sdk.sdk.api40 import methods as methods40


class DictSettings(api_settings.ApiSettings):
    """ApiSettings read from a dict instead of looker.ini / the environment."""

    def __init__(self, config: dict[str, str]) -> None:
        self._config = config
        super().__init__(filename="", sdk_version=looker_sdk.__name__)

    def read_config(self) -> api_settings.SettingsConfig:
        return dict(self._config)  # type: ignore[return-value]


class RecordingTransport(requests_transport.RequestsTransport):
    """The SDK's own requests transport, remembering the last HTTP status and headers."""

    last_status: int | None = None
    last_headers: dict[str, str] = {}

    def request(
        self, method, path, query_params=None, body=None, authenticator=None, transport_options=None
    ):  # type: ignore[no-untyped-def]
        original = self.session.request

        def spy(*args: Any, **kwargs: Any) -> requests.Response:
            resp = original(*args, **kwargs)
            self.last_status = resp.status_code
            self.last_headers = dict(resp.headers)
            return resp

        self.session.request = spy  # type: ignore[method-assign]
        self.last_status = None
        try:
            return super().request(
                method, path, query_params, body, authenticator, transport_options
            )
        finally:
            self.session.request = original  # type: ignore[method-assign]

    def raw(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """A request outside the SDK's method table (to probe routes Looker does not have)."""
        return self.session.request(method, url, timeout=self.settings.timeout, **kwargs)


def make_sdk(
    url: str, client_id: str, client_secret: str, timeout: int = 30
) -> methods40.Looker40SDK:
    settings = DictSettings(
        {
            "base_url": url,
            "client_id": client_id,
            "client_secret": client_secret,
            "verify_ssl": "false",
            "timeout": str(timeout),
        }
    )
    settings.is_configured()
    tr = RecordingTransport(settings, requests.Session())
    return methods40.Looker40SDK(
        auth_session.AuthSession(settings, tr, serialize.deserialize40, "4.0"),
        serialize.deserialize40,
        serialize.serialize40,
        tr,
        "4.0",
    )


def init_sdk(url: str, client_id: str, client_secret: str) -> methods40.Looker40SDK:
    """The plain `looker_sdk.init40(config_settings=...)` path, as the app uses it."""
    return looker_sdk.init40(
        config_settings=DictSettings(
            {"base_url": url, "client_id": client_id, "client_secret": client_secret}
        )
    )


def status_of(sdk: methods40.Looker40SDK) -> int | None:
    return sdk.transport.last_status  # type: ignore[attr-defined]


def headers_of(sdk: methods40.Looker40SDK) -> dict[str, str]:
    return sdk.transport.last_headers  # type: ignore[attr-defined]


def raw(sdk: methods40.Looker40SDK, method: str, url: str, **kwargs: Any) -> requests.Response:
    return sdk.transport.raw(method, url, **kwargs)  # type: ignore[attr-defined]


__all__ = [
    "DictSettings",
    "RecordingTransport",
    "headers_of",
    "init_sdk",
    "make_sdk",
    "raw",
    "status_of",
    "transport",
]
