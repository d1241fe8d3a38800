"""Login, tokens and the unauthenticated surface, through the real looker-sdk."""

from __future__ import annotations

import pytest
from emulator_sdk import init_sdk, make_sdk, raw, status_of
from looker_sdk import error

from looker_emulator.testing import RunningEmulator


def test_it_logs_in_with_init40_and_answers_me(emu: RunningEmulator) -> None:
    sdk = init_sdk(emu.url, emu.client_id, emu.client_secret)
    me = sdk.me()
    assert me.id == "1"
    assert me.email == "api-admin@example.com"
    assert me.display_name == "Api Admin"


def test_it_answers_404_to_wrong_credentials_like_looker(emu: RunningEmulator) -> None:
    sdk = make_sdk(emu.url, emu.client_id, "wrong-secret")
    with pytest.raises(error.SDKError):
        sdk.me()
    assert status_of(sdk) == 404
    stats = emu.stats()
    assert {"method": "POST", "route": "/api/4.0/login", "status": "404", "count": 1} in stats[
        "requests"
    ]


def test_it_answers_401_without_a_valid_token(sdk) -> None:
    url = sdk.auth.settings.base_url + "/api/4.0/user"
    resp = raw(sdk, "GET", url)
    assert resp.status_code == 401
    body = resp.json()
    assert body["message"] == "Requires authentication."
    assert body["documentation_url"].startswith(
        "https://cloud.google.com/looker/docs/r/err/4.0/401"
    )
    assert raw(sdk, "GET", url, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_it_accepts_token_and_bearer_schemes(sdk) -> None:
    sdk.me()  # logs in
    token = sdk.auth.token.access_token
    url = sdk.auth.settings.base_url + "/api/4.0/user"
    for scheme in ("token", "Bearer"):
        resp = raw(sdk, "GET", url, headers={"Authorization": f"{scheme} {token}"})
        assert resp.status_code == 200, scheme
        assert resp.json()["id"] == "1"


def test_it_invalidates_the_token_on_logout(sdk) -> None:
    sdk.me()
    token = sdk.auth.token.access_token
    sdk.auth.logout()
    url = sdk.auth.settings.base_url + "/api/4.0/user"
    assert raw(sdk, "GET", url, headers={"Authorization": f"token {token}"}).status_code == 401


def test_versions_needs_no_login(sdk) -> None:
    versions = sdk.versions()
    assert versions.current_version.version == "4.0"
    assert versions.looker_release_version.startswith("26.12")


def test_it_answers_unknown_routes_with_lookers_404_body(sdk) -> None:
    sdk.me()
    token = sdk.auth.token.access_token
    base = sdk.auth.settings.base_url
    resp = raw(
        sdk, "GET", base + "/api/4.0/no_such_thing", headers={"Authorization": f"token {token}"}
    )
    assert resp.status_code == 404
    assert resp.json() == {
        "message": "Not found",
        "documentation_url": "https://cloud.google.com/looker/docs/r/err/4.0/404",
    }
    # Queries are immutable: the spec has no PATCH /queries/{id}, so neither has the emulator.
    resp = raw(
        sdk,
        "PATCH",
        base + "/api/4.0/queries/1",
        json={"limit": "5"},
        headers={"Authorization": f"token {token}"},
    )
    assert resp.status_code == 404


def test_users_me_is_the_api_user(sdk) -> None:
    assert sdk.user("me").id == sdk.me().id == "1"


def test_every_served_operation_is_one_of_the_spec(emu) -> None:
    from looker_emulator.resources import Api
    from looker_emulator.spec import load_spec
    from looker_emulator.state import State

    spec = load_spec()
    api = Api(spec, State())
    spec_ops = {r.operation_id for r in spec.routes}
    assert set(api.handlers) <= spec_ops
    assert len(api.handlers) > 120


def test_spec_operations_not_emulated_say_so(sdk) -> None:
    sdk.me()
    base = sdk.auth.settings.base_url
    resp = raw(
        sdk,
        "GET",
        base + "/api/4.0/connections",
        headers={"Authorization": f"token {sdk.auth.token.access_token}"},
    )
    assert resp.status_code == 404
    assert resp.json()["message"] == "Not found"
    assert resp.headers["X-Looker-Emulator"] == "unimplemented operation all_connections"
