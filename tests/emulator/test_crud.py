"""Create, get, update, delete and search for every restorable type, through the real looker-sdk."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from emulator_sdk import status_of
from looker_sdk import error
from looker_sdk.sdk.api40 import methods as methods40
from looker_sdk.sdk.api40 import models as m

from looker_emulator.testing import RunningEmulator

SDK = methods40.Looker40SDK


def _query(sdk: SDK) -> str:
    return sdk.create_query(
        m.WriteQuery(model="thelook", view="products", fields=["products.brand"])
    ).id


def _folder(sdk: SDK, name: str = "CRUD folder") -> str:
    return sdk.create_folder(m.CreateFolder(name=name, parent_id="1")).id


# type -> (create, get, update(id) -> updated obj, delete, search(obj) -> list, field checked after update)
CASES: dict[str, dict[str, Callable[..., Any]]] = {
    "dashboard": {
        "create": lambda s: s.create_dashboard(
            m.WriteDashboard(title="Ops overview", folder_id="1", description="d")
        ),
        "get": lambda s, i: s.dashboard(i),
        "update": lambda s, i: s.update_dashboard(i, m.WriteDashboard(title="Ops overview v2")),
        "delete": lambda s, i: s.delete_dashboard(i),
        "search": lambda s, o: s.search_dashboards(title=o.title, folder_id="1"),
        "check": lambda o: o.title == "Ops overview v2",
    },
    "look": {
        "create": lambda s: s.create_look(
            m.WriteLookWithQuery(title="Brands", folder_id="1", query_id=_query(s))
        ),
        "get": lambda s, i: s.look(i),
        "update": lambda s, i: s.update_look(i, m.WriteLookWithQuery(description="all brands")),
        "delete": lambda s, i: s.delete_look(i),
        "search": lambda s, o: s.search_looks(title=o.title, folder_id=o.folder_id),
        "check": lambda o: o.description == "all brands" and o.query.model == "thelook",
    },
    "folder": {
        "create": lambda s: s.create_folder(m.CreateFolder(name="Finance archive", parent_id="1")),
        "get": lambda s, i: s.folder(i),
        "update": lambda s, i: s.update_folder(i, m.UpdateFolder(name="Finance archive 2")),
        "delete": lambda s, i: s.delete_folder(i),
        "search": lambda s, o: s.search_folders(name=o.name, parent_id="1"),
        "check": lambda o: o.name == "Finance archive 2",
    },
    "user": {
        "create": lambda s: s.create_user(
            m.WriteUser(
                first_name="Nia",
                last_name="Lee",
                credentials_email=m.WriteCredentialsEmail(email="nia@example.com"),
            )
        ),
        "get": lambda s, i: s.user(i),
        "update": lambda s, i: s.update_user(i, m.WriteUser(last_name="Lee-Smith")),
        "delete": lambda s, i: s.delete_user(i),
        "search": lambda s, o: s.search_users(email="nia@example.com"),
        "check": lambda o: o.last_name == "Lee-Smith" and o.email == "nia@example.com",
    },
    "group": {
        "create": lambda s: s.create_group(m.WriteGroup(name="Auditors")),
        "get": lambda s, i: s.group(i),
        "update": lambda s, i: s.update_group(i, m.WriteGroup(name="Auditors EU")),
        "delete": lambda s, i: s.delete_group(i),
        "search": lambda s, o: s.search_groups(name=o.name),
        "check": lambda o: o.name == "Auditors EU",
    },
    "permission_set": {
        "create": lambda s: s.create_permission_set(
            m.WritePermissionSet(name="Readers", permissions=["access_data", "see_looks"])
        ),
        "get": lambda s, i: s.permission_set(i),
        "update": lambda s, i: s.update_permission_set(
            i, m.WritePermissionSet(permissions=["access_data"])
        ),
        "delete": lambda s, i: s.delete_permission_set(i),
        "search": lambda s, o: s.search_permission_sets(name=o.name),
        "check": lambda o: o.permissions == ["access_data"],
    },
    "model_set": {
        "create": lambda s: s.create_model_set(
            m.WriteModelSet(name="Look only", models=["thelook"])
        ),
        "get": lambda s, i: s.model_set(i),
        "update": lambda s, i: s.update_model_set(
            i, m.WriteModelSet(models=["thelook", "finance"])
        ),
        "delete": lambda s, i: s.delete_model_set(i),
        "search": lambda s, o: s.search_model_sets(name=o.name),
        "check": lambda o: o.models == ["thelook", "finance"],
    },
    "role": {
        "create": lambda s: s.create_role(
            m.WriteRole(name="Reader", permission_set_id="1", model_set_id="1")
        ),
        "get": lambda s, i: s.role(i),
        "update": lambda s, i: s.update_role(i, m.WriteRole(name="Reader 2")),
        "delete": lambda s, i: s.delete_role(i),
        "search": lambda s, o: s.search_roles(name=o.name),
        "check": lambda o: o.name == "Reader 2" and o.permission_set.name == "Admin",
    },
    "board": {
        "create": lambda s: s.create_board(m.WriteBoard(title="Start here", description="x")),
        "get": lambda s, i: s.board(i),
        "update": lambda s, i: s.update_board(i, m.WriteBoard(description="y")),
        "delete": lambda s, i: s.delete_board(i),
        "search": lambda s, o: s.search_boards(title=o.title),
        "check": lambda o: o.description == "y",
    },
    "scheduled_plan": {
        "create": lambda s: s.create_scheduled_plan(
            m.WriteScheduledPlan(
                name="Weekly ops",
                dashboard_id=s.create_dashboard(
                    m.WriteDashboard(title="Sched target", folder_id="1")
                ).id,
                crontab="0 9 * * 1",
                scheduled_plan_destination=[
                    m.ScheduledPlanDestination(type="email", format="csv", address="a@example.com")
                ],
            )
        ),
        "get": lambda s, i: s.scheduled_plan(i),
        "update": lambda s, i: s.update_scheduled_plan(
            i, m.WriteScheduledPlan(crontab="0 6 * * *")
        ),
        "delete": lambda s, i: s.delete_scheduled_plan(i),
        "search": lambda s, o: s.search_scheduled_plans(name=o.name, all_users=True),
        "check": lambda o: (
            o.crontab == "0 6 * * *" and o.scheduled_plan_destination[0].address == "a@example.com"
        ),
    },
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_it_creates_gets_updates_searches_and_deletes(
    kind: str, sdk: SDK, emu: RunningEmulator
) -> None:
    case = CASES[kind]
    created = case["create"](sdk)
    assert created.id
    assert created.can
    fetched = case["get"](sdk, created.id)
    assert fetched.id == created.id
    updated = case["update"](sdk, created.id)
    assert case["check"](updated)
    assert case["check"](case["get"](sdk, created.id))
    found = case["search"](sdk, updated)
    assert [o.id for o in found] == [created.id]
    assert emu.stats()["creates"][kind] >= 1
    case["delete"](sdk, created.id)
    assert status_of(sdk) == 204
    with pytest.raises(error.SDKError):
        case["get"](sdk, created.id)
    assert status_of(sdk) == 404


def test_it_keys_lookml_models_by_name_and_serves_explores(sdk: SDK) -> None:
    models = {mdl.name for mdl in sdk.all_lookml_models()}
    assert {"thelook", "finance", "system__activity"} <= models
    explore = sdk.lookml_model_explore("thelook", "products")
    assert explore.name == "products"
    assert explore.model_name == "thelook"
    created = sdk.create_lookml_model(
        m.WriteLookmlModel(
            name="sandbox", project_name="sandbox", allowed_db_connection_names=["db"]
        )
    )
    assert created.name == "sandbox"
    assert sdk.lookml_model("sandbox").project_name == "sandbox"
    sdk.update_lookml_model(
        "sandbox", m.WriteLookmlModel(allowed_db_connection_names=["db", "db2"])
    )
    assert sdk.lookml_model("sandbox").allowed_db_connection_names == ["db", "db2"]
    with pytest.raises(error.SDKError):
        sdk.create_lookml_model(m.WriteLookmlModel(name="sandbox", project_name="other"))
    assert status_of(sdk) == 422
    sdk.delete_lookml_model("sandbox")
    with pytest.raises(error.SDKError):
        sdk.lookml_model("sandbox")


def test_list_and_search_honour_fields_limit_offset(sdk: SDK) -> None:
    everything = sdk.search_dashboards(fields="id,title")
    assert len(everything) > 5
    assert everything[0].folder_id is None  # not requested
    page = sdk.search_dashboards(fields="id,title", limit=3, offset=2)
    assert [d.id for d in page] == [d.id for d in everything[2:5]]
    wildcard = sdk.search_dashboards(title=everything[0].title[:4] + "%")
    assert everything[0].id in {d.id for d in wildcard}
    by_id_list = sdk.search_folders(id=",".join(["1", "2"]))
    assert {f.id for f in by_id_list} == {"1", "2"}
    assert {f.id for f in sdk.search_folders(parent_id="IS NULL")} >= {"1", "2"}


def test_search_users_by_email_and_group(sdk: SDK) -> None:
    some = [u for u in sdk.all_users() if u.id != "1"][0]
    assert [u.id for u in sdk.search_users(email=some.email.upper())] == [some.id]
    members = sdk.search_users(group_id=some.group_ids[-1])
    assert some.id in {u.id for u in members}


def test_system_folders_and_personal_folders(sdk: SDK) -> None:
    shared = sdk.folder("1")
    assert shared.name == "Shared" and shared.is_shared_root
    users_root = [f for f in sdk.all_folders() if f.is_users_root][0]
    me = sdk.me()
    personal = sdk.folder(me.personal_folder_id)
    assert personal.is_personal and personal.parent_id == users_root.id
    new_user = sdk.create_user(m.WriteUser(first_name="Pat", last_name="Kim"))
    assert sdk.folder(new_user.personal_folder_id).parent_id == users_root.id
    with pytest.raises(error.SDKError):
        sdk.delete_folder("1")
    assert status_of(sdk) == 422


def test_scheduled_plan_lists_default_to_the_callers_own(sdk: SDK) -> None:
    others = sdk.search_scheduled_plans(all_users=True)
    assert any(p.user_id != "1" for p in others)
    mine = sdk.search_scheduled_plans()
    assert all(p.user_id == "1" for p in mine)
    assert {p.id for p in sdk.all_scheduled_plans(all_users=True)} == {p.id for p in others}


def test_content_cannot_live_in_the_users_root(sdk: SDK) -> None:
    users_root = [f for f in sdk.all_folders() if f.is_users_root][0]
    with pytest.raises(error.SDKError):
        sdk.create_dashboard(m.WriteDashboard(title="Nowhere", folder_id=users_root.id))
    assert status_of(sdk) == 422
    look = sdk.search_looks(limit=1)[0]
    with pytest.raises(error.SDKError):
        sdk.update_look(look.id, m.WriteLookWithQuery(folder_id=users_root.id))
    assert status_of(sdk) == 422
    personal = sdk.me().personal_folder_id
    assert sdk.update_look(look.id, m.WriteLookWithQuery(folder_id=personal)).folder_id == personal
