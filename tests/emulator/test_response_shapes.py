"""Responses are shaped like Looker's: every object fits the spec schema of its operation's response.

A client that takes a GET response, keeps the writable fields and sends them back must get a valid body;
that only holds if what we serve has the spec's types and nullability.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from emulator_sdk import raw

from looker_emulator.spec import load_spec
from looker_emulator.testing import RunningEmulator
from looker_emulator.validation import validate_model


def _problems(schema: str, obj: dict[str, Any]) -> list[tuple[str, str, str]]:
    spec = load_spec()
    errs = validate_model(spec, spec.model(schema), obj, strict=True)
    return [e for e in errs if e[1] != "read_only"]


def _first_id(
    doc: dict[str, Any], table: str, pred: Callable[[dict[str, Any]], bool] = lambda r: True
) -> str:
    return next(r for r in doc["tables"][table] if pred(r))["id"]


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/dashboards/{dashboards}", "Dashboard"),
        ("/looks/{looks}", "LookWithQuery"),
        ("/folders/{folders}", "Folder"),
        ("/users/{users}", "User"),
        ("/groups/{groups}", "Group"),
        ("/roles/{roles}", "Role"),
        ("/permission_sets/{permission_sets}", "PermissionSet"),
        ("/model_sets/{model_sets}", "ModelSet"),
        ("/boards/{boards}", "Board"),
        ("/scheduled_plans/{scheduled_plans}", "ScheduledPlan"),
        ("/lookml_models/thelook", "LookmlModel"),
        ("/lookml_models/thelook/explores/products", "LookmlModelExplore"),
        ("/queries/{queries}", "Query"),
        ("/dashboard_elements/{dashboard_elements}", "DashboardElement"),
        ("/dashboard_filters/{dashboard_filters}", "DashboardFilter"),
        ("/dashboard_layouts/{dashboard_layouts}", "DashboardLayout"),
        ("/dashboard_layout_components/{dashboard_layout_components}", "DashboardLayoutComponent"),
        ("/board_sections/{board_sections}", "BoardSection"),
        ("/board_items/{board_items}", "BoardItem"),
        ("/user", "User"),
        ("/versions", "ApiVersion"),
    ],
)
def test_responses_fit_the_spec_schema(emu: RunningEmulator, sdk, path: str, schema: str) -> None:
    doc = emu.export()
    for table in doc["tables"]:
        if "{" + table + "}" in path:
            path = path.replace("{" + table + "}", _first_id(doc, table))
    sdk.me()
    headers = {"Authorization": f"token {sdk.auth.token.access_token}"}
    resp = raw(sdk, "GET", f"{emu.url}/api/4.0{path}", headers=headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == set(load_spec().model(schema).fields)
    assert _problems(schema, body) == []


def test_search_results_fit_the_spec_schema(emu: RunningEmulator, sdk) -> None:
    sdk.me()
    headers = {"Authorization": f"token {sdk.auth.token.access_token}"}
    for path, schema in [
        ("/dashboards/search", "Dashboard"),
        ("/looks/search", "Look"),
        ("/users/search", "User"),
    ]:
        rows = raw(sdk, "GET", f"{emu.url}/api/4.0{path}?limit=5", headers=headers).json()
        assert rows
        for row in rows:
            assert _problems(schema, row) == []
