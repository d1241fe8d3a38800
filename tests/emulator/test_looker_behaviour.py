"""Answers that reproduce what Looker (or lookervault talking to Looker) really does.

Each test names the behaviour it reproduces; docs/emulator.md lists the differences that remain.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from emulator_sdk import make_sdk, raw, status_of
from looker_sdk import error
from looker_sdk.sdk.api40 import models as ml

from looker_emulator.testing import RunningEmulator, running_emulator


def api(emu: RunningEmulator, sdk, method: str, path: str, **kwargs: Any) -> requests.Response:
    sdk.me()  # logs in
    headers = {"Authorization": f"token {sdk.auth.token.access_token}"}
    return raw(sdk, method, f"{emu.url}/api/4.0{path}", headers=headers, **kwargs)


def test_login_through_a_doubled_slash_works_as_behind_lookers_web_servers(emu) -> None:
    """lookervault logs in at `//api/4.0/login` (pydantic's trailing slash on its base URL); the
    web servers in front of Looker collapse repeated slashes."""
    form = {"client_id": emu.client_id, "client_secret": emu.client_secret}
    resp = requests.post(f"{emu.url}//api/4.0/login", data=form, timeout=10)
    assert resp.status_code == 200 and resp.json()["access_token"]
    token = resp.json()["access_token"]
    me = requests.get(
        f"{emu.url}/api//4.0//user", headers={"Authorization": f"token {token}"}, timeout=10
    )
    assert me.status_code == 200 and me.json()["id"] == "1"


def test_search_dashboards_answers_whole_dashboards_unless_fields_leaves_parts_out(
    emu, sdk
) -> None:
    """The spec: search_dashboards returns `Dashboard`, which nests elements, filters, layouts."""
    doc = emu.export()
    with_tiles = {e["dashboard_id"] for e in doc["tables"]["dashboard_elements"]}
    whole = api(emu, sdk, "GET", "/dashboards/search").json()
    assert whole and all(
        {"dashboard_elements", "dashboard_filters", "dashboard_layouts"} <= set(d) for d in whole
    )
    assert any(d["dashboard_elements"] for d in whole if d["id"] in with_tiles)
    assert all(d["dashboard_layouts"] for d in whole)
    slim = api(emu, sdk, "GET", "/dashboards/search", params={"fields": "id,title"}).json()
    assert slim and all(set(d) == {"id", "title"} for d in slim)
    typed = sdk.search_dashboards(limit=3)
    assert all(isinstance(d.dashboard_layouts, list) for d in typed)


def test_avatar_urls_are_strings_as_the_spec_says(emu, sdk) -> None:
    """UserPublic.avatar_url is a non-nullable string: Looker answers a Gravatar URL."""
    plans = api(emu, sdk, "GET", "/scheduled_plans", params={"all_users": "true"}).json()
    assert plans
    for plan in plans:
        assert plan["user"]["avatar_url"].startswith("https://")
    assert sdk.me().avatar_url.startswith("https://")


def test_a_name_set_to_null_reads_back_as_an_empty_string(sdk) -> None:
    """As in Looker's SDK test test_crud_user: first_name/last_name set to null read back ""."""
    user = sdk.create_user(ml.WriteUser(first_name="Ada", last_name="Lovelace"))
    sdk.update_user(user.id, ml.WriteUser(first_name=ml.EXPLICIT_NULL, last_name=ml.EXPLICIT_NULL))
    again = sdk.user(user.id)
    assert (again.first_name, again.last_name) == ("", "")


def test_deleting_a_user_deletes_their_personal_folder_and_trashes_its_content(emu, sdk) -> None:
    """Looker ("Removing user access"): the personal folder is deleted, its looks and dashboards
    go to the trash, the user's schedules are deleted; un-trashed, content lands in the personal
    folder of the user who brings it back."""
    doc = emu.export()
    query_id = doc["tables"]["queries"][0]["id"]
    user = sdk.create_user(ml.WriteUser(first_name="Gone", last_name="Soon"))
    home = user.personal_folder_id
    sub = sdk.create_folder(ml.CreateFolder(name="Sub", parent_id=home))
    look = sdk.create_look(ml.WriteLookWithQuery(title="Mine", folder_id=sub.id, query_id=query_id))
    dash = sdk.create_dashboard(ml.WriteDashboard(title="Mine", folder_id=home))
    plan = sdk.create_scheduled_plan(
        ml.WriteScheduledPlan(name="Weekly", dashboard_id=dash.id, user_id=user.id)
    )
    sdk.delete_user(user.id)
    for fid in (home, sub.id):
        with pytest.raises(error.SDKError):
            sdk.folder(fid)
        assert status_of(sdk) == 404
    with pytest.raises(error.SDKError):
        sdk.scheduled_plan(plan.id)
    assert sdk.look(look.id).deleted and sdk.dashboard(dash.id).deleted
    assert not sdk.search_looks(id=look.id)  # the trash is out of searches
    back = sdk.update_look(look.id, ml.WriteLookWithQuery(deleted=False))
    assert not back.deleted and back.folder_id == sdk.me().personal_folder_id


def test_merge_queries_exist_and_elements_may_only_name_one(emu, sdk) -> None:
    """Looker's create_merge_query/merge_query; an element's merge_result_id naming no merge
    query is refused (422), one naming a merge query is taken."""
    doc = emu.export()
    q1, q2 = (q["id"] for q in doc["tables"]["queries"][:2])
    dash_id = doc["tables"]["dashboards"][0]["id"]
    merge = sdk.create_merge_query(
        ml.WriteMergeQuery(
            source_queries=[
                ml.MergeQuerySourceQuery(name="a", query_id=q1, merge_fields=[]),
                ml.MergeQuerySourceQuery(name="b", query_id=q2, merge_fields=[]),
            ]
        )
    )
    assert merge.id and sdk.merge_query(merge.id).source_queries[1].query_id == q2
    with pytest.raises(error.SDKError) as refused:
        sdk.create_merge_query(
            ml.WriteMergeQuery(source_queries=[ml.MergeQuerySourceQuery(query_id="999999")])
        )
    assert status_of(sdk) == 422, refused.value
    with pytest.raises(error.SDKError):
        sdk.create_dashboard_element(
            ml.WriteDashboardElement(dashboard_id=dash_id, merge_result_id="424242", type="vis")
        )
    assert status_of(sdk) == 422
    element = sdk.create_dashboard_element(
        ml.WriteDashboardElement(dashboard_id=dash_id, merge_result_id=merge.id, type="vis")
    )
    assert element.merge_result_id == merge.id


@pytest.mark.parametrize("strict", [True, False])
def test_a_number_where_the_spec_says_string_is_taken_as_looker_does(strict: bool) -> None:
    """sdk-codegen #1512: `"limit": 100` in create_query "just works" on Looker."""
    with running_emulator(items=10, seed=1, strict=strict) as emu:
        sdk = make_sdk(emu.url, emu.client_id, emu.client_secret)
        body = {"model": "thelook", "view": "products", "fields": ["products.id"], "limit": 100}
        resp = api(emu, sdk, "POST", "/queries", json=body)
        assert resp.status_code == 200, resp.text
        assert sdk.query(resp.json()["id"]).limit == "100"
        violations = emu.stats()["spec_violations"]
    assert {"operation": "create_query", "field": "limit", "code": "number_for_string"} in [
        {k: v for k, v in x.items() if k != "count"} for x in violations
    ]


def test_lenient_mode_ignores_read_only_fields_as_looker_does_and_strict_refuses_them() -> None:
    """Looker's test_crud_user_dict sends a whole User read back to update_user; Looker ignores
    its read-only fields. Strict mode (the default) refuses them: a restore must not send them."""
    for strict, expected in ((True, 422), (False, 200)):
        with running_emulator(items=10, seed=1, strict=strict) as emu:
            sdk = make_sdk(emu.url, emu.client_id, emu.client_secret)
            whole = api(emu, sdk, "GET", "/users/1").json()
            whole["locale"] = "uk"
            resp = api(emu, sdk, "PATCH", "/users/1", json=whole)
            assert resp.status_code == expected, resp.text
            if expected == 200:
                assert sdk.user("1").locale == "uk"


def test_login_user_acts_as_that_user_until_logout(sdk) -> None:
    """POST /login/{user_id} (Looker's sudo): a restore acts as a content owner this way."""
    user = sdk.create_user(ml.WriteUser(first_name="Sudo", last_name="Target"))
    assert sdk.login_user(user.id).access_token
    sdk.auth.login_user(user.id)
    assert sdk.me().id == user.id
    assert sdk.session().sudo_user_id == user.id
    sdk.auth.logout()
    assert sdk.me().id == "1"


def test_session_workspace_switches_between_production_and_dev(sdk) -> None:
    assert sdk.session().workspace_id == "production"
    assert sdk.update_session(ml.WriteApiSession(workspace_id="dev")).workspace_id == "dev"
    assert sdk.session().workspace_id == "dev"
    with pytest.raises(error.SDKError):
        sdk.update_session(ml.WriteApiSession(workspace_id="elsewhere"))
    assert status_of(sdk) == 422


def test_search_users_names_matches_names_and_emails_with_wildcards(sdk) -> None:
    user = sdk.create_user(ml.WriteUser(first_name="John Allen", last_name="Smith"))
    sdk.create_user_credentials_email(user.id, ml.WriteCredentialsEmail(email="ja@testfoo.com"))
    assert [u.id for u in sdk.search_users_names(pattern="John Allen")] == [user.id]
    assert [u.id for u in sdk.search_users_names(pattern="%@testfoo.com")] == [user.id]
    assert [u.id for u in sdk.search_users_names(pattern="ja@testfoo.com")] == [user.id]
    assert sdk.search_users_names(pattern="Nobody%") == []


def test_default_color_collection_can_be_changed(sdk) -> None:
    original = sdk.default_color_collection()
    other = next(c for c in sdk.all_color_collections() if c.id != original.id)
    assert sdk.set_default_color_collection(other.id).id == other.id
    assert sdk.default_color_collection().id == other.id


def test_the_api_user_has_its_api3_credentials(emu, sdk) -> None:
    """Looker's test_me_returns_correct_result: me().credentials_api3 lists the API keys."""
    creds = sdk.me().credentials_api3
    assert [c.client_id for c in creds] == [emu.client_id]
