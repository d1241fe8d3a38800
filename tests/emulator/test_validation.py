"""Looker's validation: schema types, strict read-only fields, references and uniqueness."""

from __future__ import annotations

import pytest
from emulator_sdk import make_sdk, raw, status_of
from looker_sdk import error
from looker_sdk.sdk.api40 import methods as methods40
from looker_sdk.sdk.api40 import models as m

from looker_emulator.testing import running_emulator

SDK = methods40.Looker40SDK


def _authed(sdk: SDK) -> dict[str, str]:
    sdk.me()
    return {"Authorization": f"Bearer {sdk.auth.token.access_token}"}


def test_wrong_types_answer_422_with_lookers_body(sdk: SDK) -> None:
    dash = sdk.search_dashboards(limit=1)[0]
    url = f"{sdk.auth.settings.base_url}/api/4.0/dashboards/{dash.id}"
    resp = raw(
        sdk,
        "PATCH",
        url,
        json={"title": ["not", "a", "string"], "hidden": "yes"},
        headers=_authed(sdk),
    )
    assert resp.status_code == 422
    body = resp.json()
    doc = "https://cloud.google.com/looker/docs/r/err/4.0/422/patch/dashboards/:dashboard_id"
    assert body["message"] == "Validation Failed"
    assert body["documentation_url"] == doc
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"title", "hidden"}
    assert fields["title"]["code"] == "invalid"
    assert fields["title"]["documentation_url"] == doc
    assert sdk.dashboard(dash.id).title == dash.title  # nothing written


def test_strict_mode_rejects_read_only_fields(sdk: SDK) -> None:
    url = f"{sdk.auth.settings.base_url}/api/4.0/dashboards"
    body = {"title": "With id", "folder_id": "1", "id": "77", "created_at": "2020-01-01T00:00:00Z"}
    resp = raw(sdk, "POST", url, json=body, headers=_authed(sdk))
    assert resp.status_code == 422
    errors = {e["field"]: e["code"] for e in resp.json()["errors"]}
    assert errors == {"id": "read_only", "created_at": "read_only"}
    # Read-only fields nested in a writable object are rejected too.
    resp = raw(
        sdk,
        "POST",
        url,
        json={"title": "x", "folder_id": "1", "folder": {"name": "Shared", "id": "1"}},
        headers=_authed(sdk),
    )
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["folder.id"]
    assert sdk.search_dashboards(title="With id") == []


def test_lenient_mode_ignores_read_only_fields() -> None:
    with running_emulator(strict=False) as emu:
        sdk = make_sdk(emu.url, emu.client_id, emu.client_secret)
        url = f"{emu.url}/api/4.0/dashboards"
        resp = raw(
            sdk,
            "POST",
            url,
            json={"title": "Lenient", "folder_id": "1", "id": "77", "view_count": 5, "bogus": 1},
            headers=_authed(sdk),
        )
        assert resp.status_code == 200
        assert resp.json()["id"] != "77"
        assert resp.json()["view_count"] == 0  # read-only: ignored, not written
        violations = {
            (v["operation"], v["field"], v["code"]) for v in emu.stats()["spec_violations"]
        }
        assert violations == {
            ("create_dashboard", "id", "read_only"),
            ("create_dashboard", "view_count", "read_only"),
            ("create_dashboard", "bogus", "unknown"),
        }


def test_strict_rejections_and_unknown_query_parameters_are_counted(emu, sdk: SDK) -> None:
    url = f"{sdk.auth.settings.base_url}/api/4.0/folders"
    raw(sdk, "POST", url, json={"name": "x", "parent_id": "1", "id": "5"}, headers=_authed(sdk))
    raw(sdk, "GET", f"{url}/1?colour=blue", headers=_authed(sdk))
    violations = {(v["operation"], v["field"], v["code"]) for v in emu.stats()["spec_violations"]}
    assert violations == {
        ("create_folder", "id", "unknown"),  # CreateFolder has only name and parent_id
        ("folder", "colour", "unknown_query_parameter"),
    }
    emu.reset()
    assert emu.stats()["spec_violations"] == []


def test_missing_required_fields_answer_422(sdk: SDK) -> None:
    with pytest.raises(error.SDKError) as exc:
        sdk.create_folder(m.CreateFolder(name="No parent", parent_id=""))
    assert status_of(sdk) == 422
    assert {e.field for e in exc.value.errors} == {"parent_id"}
    with pytest.raises(error.SDKError):
        sdk.create_dashboard(m.WriteDashboard(title="No folder"))
    assert status_of(sdk) == 422


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda s: s.create_dashboard(m.WriteDashboard(title="x", folder_id="999999")),
            "folder_id",
        ),
        (lambda s: s.create_folder(m.CreateFolder(name="x", parent_id="999999")), "parent_id"),
        (
            lambda s: s.create_look(
                m.WriteLookWithQuery(title="x", folder_id="1", query_id="999999")
            ),
            "query_id",
        ),
        (
            lambda s: s.create_dashboard_element(
                m.WriteDashboardElement(dashboard_id="999999", type="text")
            ),
            "dashboard_id",
        ),
        (
            lambda s: s.create_dashboard_element(
                m.WriteDashboardElement(
                    dashboard_id=s.search_dashboards(limit=1)[0].id, look_id="999999"
                )
            ),
            "look_id",
        ),
        (
            lambda s: s.create_role(
                m.WriteRole(name="x", permission_set_id="999999", model_set_id="1")
            ),
            "permission_set_id",
        ),
        (
            lambda s: s.create_role(
                m.WriteRole(name="x", permission_set_id="1", model_set_id="999999")
            ),
            "model_set_id",
        ),
        (lambda s: s.create_board_section(m.WriteBoardSection(board_id="999999")), "board_id"),
        (
            lambda s: s.create_scheduled_plan(m.WriteScheduledPlan(name="x", user_id="999999")),
            "user_id",
        ),
        (
            lambda s: s.create_board_item(m.WriteBoardItem(board_section_id="999999")),
            "board_section_id",
        ),
    ],
)
def test_references_must_exist(sdk: SDK, call, field: str) -> None:
    with pytest.raises(error.SDKError) as exc:
        call(sdk)
    assert status_of(sdk) == 422
    assert field in {e.field for e in exc.value.errors}


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.create_group(m.WriteGroup(name="All Users")),
        lambda s: s.create_permission_set(m.WritePermissionSet(name="admin", permissions=[])),
        lambda s: s.create_model_set(m.WriteModelSet(name="All", models=[])),
        lambda s: s.create_role(m.WriteRole(name="Admin", permission_set_id="1", model_set_id="1")),
        lambda s: s.create_user(
            m.WriteUser(credentials_email=m.WriteCredentialsEmail(email="API-ADMIN@example.com"))
        ),
        lambda s: s.create_lookml_model(m.WriteLookmlModel(name="thelook")),
        lambda s: s.create_folder(
            m.CreateFolder(name=s.search_folders(parent_id="1", limit=1)[0].name, parent_id="1")
        ),
    ],
)
def test_uniqueness_is_enforced(sdk: SDK, call) -> None:
    with pytest.raises(error.SDKError) as exc:
        call(sdk)
    assert status_of(sdk) == 422
    assert exc.value.errors[0].code == "already_exists"


def test_a_folder_name_may_repeat_under_another_parent(sdk: SDK) -> None:
    a = sdk.create_folder(m.CreateFolder(name="Parent A", parent_id="1"))
    b = sdk.create_folder(m.CreateFolder(name="Parent B", parent_id="1"))
    sdk.create_folder(m.CreateFolder(name="Reports", parent_id=a.id))
    sdk.create_folder(m.CreateFolder(name="Reports", parent_id=b.id))
    with pytest.raises(error.SDKError):
        sdk.update_folder(a.id, m.UpdateFolder(parent_id=a.id))
    assert status_of(sdk) == 422


def test_group_membership_body_is_accepted_despite_spec_marking_it_read_only(sdk: SDK) -> None:
    group = sdk.create_group(m.WriteGroup(name="Spec quirk"))
    user = sdk.all_users(limit=1)[0]
    assert (
        sdk.add_group_user(group.id, m.GroupIdForGroupUserInclusion(user_id=user.id)).id == user.id
    )


def test_required_fields_cannot_be_cleared_by_an_update(sdk: SDK) -> None:
    dash = sdk.search_dashboards(limit=1)[0]
    with pytest.raises(error.SDKError) as exc:
        sdk.update_dashboard(dash.id, m.WriteDashboard(folder_id=""))
    assert status_of(sdk) == 422
    assert exc.value.errors[0].field == "folder_id"


def test_built_ins_cannot_be_changed(sdk: SDK) -> None:
    for call in (
        lambda: sdk.update_role("2", m.WriteRole(name="Not admin")),
        lambda: sdk.update_permission_set("1", m.WritePermissionSet(permissions=[])),
        lambda: sdk.update_model_set("1", m.WriteModelSet(models=[])),
        lambda: sdk.delete_permission_set("1"),
    ):
        with pytest.raises(error.SDKError):
            call()
        assert status_of(sdk) == 405
    assert sdk.role("2").name == "Admin"


def test_dashboard_titles_are_unique_within_a_folder_outside_the_trash(sdk: SDK) -> None:
    first = sdk.create_dashboard(m.WriteDashboard(title="Weekly KPIs", folder_id="1"))
    with pytest.raises(error.SDKError) as exc:
        sdk.create_dashboard(m.WriteDashboard(title="Weekly KPIs", folder_id="1"))
    assert status_of(sdk) == 422
    assert exc.value.errors[0].code == "already_exists"
    other = sdk.create_folder(m.CreateFolder(name="Elsewhere", parent_id="1"))
    sdk.create_dashboard(m.WriteDashboard(title="Weekly KPIs", folder_id=other.id))
    sdk.update_dashboard(first.id, m.WriteDashboard(deleted=True))
    sdk.create_dashboard(m.WriteDashboard(title="Weekly KPIs", folder_id="1"))
