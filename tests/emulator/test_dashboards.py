"""Dashboards and their sub-resources, queries, boards and memberships: Looker's couplings."""

from __future__ import annotations

import time

import pytest
from emulator_sdk import status_of
from looker_sdk import error
from looker_sdk.sdk.api40 import methods as methods40
from looker_sdk.sdk.api40 import models as m

SDK = methods40.Looker40SDK


def _dashboard(sdk: SDK, title: str = "Coupled") -> m.Dashboard:
    return sdk.create_dashboard(m.WriteDashboard(title=title, folder_id="1"))


def test_creating_a_dashboard_creates_its_default_layout(sdk: SDK) -> None:
    dash = _dashboard(sdk)
    assert len(dash.dashboard_layouts) == 1
    layout = dash.dashboard_layouts[0]
    assert layout.active and layout.type == "newspaper"
    assert dash.dashboard_elements == [] and dash.dashboard_filters == []


def test_creating_an_element_adds_a_layout_component_and_get_nests_everything(sdk: SDK) -> None:
    dash = _dashboard(sdk)
    query = sdk.create_query(
        m.WriteQuery(model="thelook", view="products", fields=["products.brand", "products.count"])
    )
    tile = sdk.create_dashboard_element(
        m.WriteDashboardElement(dashboard_id=dash.id, query_id=query.id, title="Brands", type="vis")
    )
    text = sdk.create_dashboard_element(
        m.WriteDashboardElement(dashboard_id=dash.id, type="text", body_text="hello")
    )
    flt = sdk.create_dashboard_filter(
        m.WriteCreateDashboardFilter(
            dashboard_id=dash.id,
            name="Brand",
            title="Brand",
            type="field_filter",
            model="thelook",
            explore="products",
            dimension="products.brand",
        )
    )
    full = sdk.dashboard(dash.id)
    assert [e.id for e in full.dashboard_elements] == [tile.id, text.id]
    assert full.dashboard_elements[0].query.id == query.id
    assert [f.id for f in full.dashboard_filters] == [flt.id]
    components = full.dashboard_layouts[0].dashboard_layout_components
    assert {c.dashboard_element_id for c in components} == {tile.id, text.id}
    # Lists per dashboard, and the components per layout.
    assert [e.id for e in sdk.dashboard_dashboard_elements(dash.id)] == [tile.id, text.id]
    assert [f.id for f in sdk.dashboard_dashboard_filters(dash.id)] == [flt.id]
    layout_id = full.dashboard_layouts[0].id
    comps = sdk.dashboard_layout_dashboard_layout_components(layout_id)
    moved = sdk.update_dashboard_layout_component(
        comps[0].id, m.WriteDashboardLayoutComponent(row=10, column=12, width=12, height=4)
    )
    assert (moved.row, moved.column, moved.width) == (10, 12, 12)
    # A second layout gets components for the existing elements.
    second = sdk.create_dashboard_layout(
        m.WriteDashboardLayout(dashboard_id=dash.id, type="static")
    )
    assert len(sdk.dashboard_layout_dashboard_layout_components(second.id)) == 2
    # Deleting an element removes its components from every layout.
    sdk.delete_dashboard_element(text.id)
    assert len(sdk.dashboard_layout_dashboard_layout_components(second.id)) == 1
    sdk.update_dashboard_element(tile.id, m.WriteDashboardElement(title="Brands (renamed)"))
    assert sdk.dashboard_element(tile.id).title == "Brands (renamed)"
    sdk.update_dashboard_filter(flt.id, m.WriteDashboardFilter(default_value="A%"))
    assert sdk.dashboard_filter(flt.id).default_value == "A%"
    sdk.delete_dashboard_filter(flt.id)
    assert sdk.dashboard_dashboard_filters(dash.id) == []


def test_the_active_layout_cannot_be_deleted(sdk: SDK) -> None:
    dash = _dashboard(sdk)
    with pytest.raises(error.SDKError):
        sdk.delete_dashboard_layout(dash.dashboard_layouts[0].id)
    assert status_of(sdk) == 422


def test_soft_delete_moves_dashboards_and_looks_to_trash_and_back(sdk: SDK) -> None:
    dash = _dashboard(sdk, "Trash me")
    trashed = sdk.update_dashboard(dash.id, m.WriteDashboard(deleted=True))
    assert trashed.deleted and trashed.deleted_at
    assert sdk.search_dashboards(title="Trash me") == []
    assert [d.id for d in sdk.search_dashboards(title="Trash me", deleted=True)] == [dash.id]
    assert sdk.dashboard(dash.id).deleted  # still readable by id, like Looker
    restored = sdk.update_dashboard(dash.id, m.WriteDashboard(deleted=False))
    assert not restored.deleted and restored.deleted_at is None
    assert [d.id for d in sdk.search_dashboards(title="Trash me")] == [dash.id]

    look = sdk.search_looks(limit=1)[0]
    sdk.update_look(look.id, m.WriteLookWithQuery(deleted=True))
    assert look.id not in {lk.id for lk in sdk.search_looks(title=look.title)}
    assert look.id in {lk.id for lk in sdk.search_looks(title=look.title, deleted=True)}


def test_updated_at_moves_on_every_write(sdk: SDK) -> None:
    dash = _dashboard(sdk)
    before = sdk.dashboard(dash.id).updated_at
    time.sleep(0.01)
    after = sdk.update_dashboard(dash.id, m.WriteDashboard(description="x")).updated_at
    assert after > before
    # A change to a part of the dashboard is a change of the dashboard.
    time.sleep(0.01)
    comp = sdk.dashboard_layout_dashboard_layout_components(dash.dashboard_layouts[0].id)
    assert comp == []
    sdk.create_dashboard_element(
        m.WriteDashboardElement(dashboard_id=dash.id, type="text", body_text="t")
    )
    assert sdk.dashboard(dash.id).updated_at > after


def test_queries_are_immutable_with_id_and_slug(sdk: SDK) -> None:
    q = sdk.create_query(
        m.WriteQuery(model="finance", view="ledger", fields=["ledger.account"], limit="10")
    )
    assert q.id and q.slug
    assert sdk.query(q.id).fields == ["ledger.account"]
    assert sdk.query_for_slug(q.slug).id == q.id
    other = sdk.create_query(
        m.WriteQuery(model="finance", view="ledger", fields=["ledger.account"], limit="10")
    )
    assert other.id != q.id and other.slug != q.slug
    with pytest.raises(error.SDKError) as exc:
        sdk.create_query(m.WriteQuery(model="finance", view="no_such_explore"))
    assert status_of(sdk) == 422
    assert exc.value.errors[0].field == "view"
    with pytest.raises(error.SDKError):
        sdk.create_query(m.WriteQuery(model="no_such_model", view="ledger"))
    assert status_of(sdk) == 422


def test_looks_nest_their_query(sdk: SDK) -> None:
    look = sdk.look(sdk.search_looks(limit=1)[0].id)
    assert look.query is not None and look.query.id == look.query_id
    assert look.folder is not None and look.folder.id == look.folder_id


def test_boards_sections_and_items(sdk: SDK) -> None:
    board = sdk.create_board(m.WriteBoard(title="Home"))
    section = sdk.create_board_section(m.WriteBoardSection(board_id=board.id, title="Top"))
    dash = _dashboard(sdk, "Boarded")
    item = sdk.create_board_item(
        m.WriteBoardItem(board_section_id=section.id, dashboard_id=dash.id)
    )
    full = sdk.board(board.id)
    assert full.section_order == [section.id]
    assert full.board_sections[0].board_items[0].id == item.id
    assert full.board_sections[0].item_order == [item.id]
    assert full.board_sections[0].board_items[0].title == "Boarded"
    assert item.id in {i.id for i in sdk.all_board_items(board_section_id=section.id)}
    assert section.id in {s.id for s in sdk.all_board_sections()}
    sdk.update_board_section(section.id, m.WriteBoardSection(title="Top 2"))
    assert sdk.board_section(section.id).title == "Top 2"
    sdk.delete_board_item(item.id)
    assert sdk.board_section(section.id).item_order == []
    with pytest.raises(error.SDKError):
        sdk.create_board_item(m.WriteBoardItem(board_section_id="999999", dashboard_id=dash.id))
    assert status_of(sdk) == 422


def test_user_group_and_role_memberships(sdk: SDK) -> None:
    user = sdk.create_user(
        m.WriteUser(
            first_name="Mo",
            last_name="Ali",
            credentials_email=m.WriteCredentialsEmail(email="mo@example.com"),
        )
    )
    group = sdk.create_group(m.WriteGroup(name="Mo's group"))
    role = sdk.create_role(m.WriteRole(name="Mo's role", permission_set_id="1", model_set_id="1"))
    sdk.add_group_user(group.id, m.GroupIdForGroupUserInclusion(user_id=user.id))
    assert group.id in sdk.user(user.id).group_ids
    assert [u.id for u in sdk.all_group_users(group.id)] == [user.id]
    assert sdk.group(group.id).user_count == 1
    sdk.set_user_roles(user.id, [role.id])
    assert [r.id for r in sdk.user_roles(user.id)] == [role.id]
    assert sdk.user(user.id).role_ids == [role.id]
    sdk.set_role_groups(role.id, [group.id])
    assert [g.id for g in sdk.role_groups(role.id)] == [group.id]
    sdk.set_role_users(role.id, [user.id])
    assert [u.id for u in sdk.role_users(role.id)] == [user.id]
    sdk.delete_group_user(group.id, user.id)
    assert group.id not in sdk.user(user.id).group_ids
    with pytest.raises(error.SDKError):
        sdk.set_user_roles(user.id, ["424242"])
    assert status_of(sdk) == 422


def test_user_credentials_email(sdk: SDK) -> None:
    user = sdk.create_user(m.WriteUser(first_name="Eve", last_name="Ng"))
    assert user.email is None
    creds = sdk.create_user_credentials_email(
        user.id, m.WriteCredentialsEmail(email="eve@example.com")
    )
    assert creds.email == "eve@example.com"
    assert sdk.user(user.id).email == "eve@example.com"
    assert [u.id for u in sdk.search_users(email="eve@example.com")] == [user.id]


def test_move_dashboard_and_look(sdk: SDK) -> None:
    target = sdk.create_folder(m.CreateFolder(name="Move target", parent_id="1"))
    dash = _dashboard(sdk, "Mover")
    assert sdk.move_dashboard(dash.id, target.id).folder_id == target.id
    look = sdk.search_looks(limit=1)[0]
    assert sdk.move_look(look.id, target.id).folder_id == target.id
    assert {d.id for d in sdk.folder_dashboards(target.id)} == {dash.id}
    with pytest.raises(error.SDKError):
        sdk.move_dashboard(dash.id, "999999")
    assert status_of(sdk) == 422


def test_searches_with_roles_and_user_counts(sdk: SDK) -> None:
    group = sdk.create_group(m.WriteGroup(name="With roles"))
    role = sdk.create_role(
        m.WriteRole(name="Grouped role", permission_set_id="1", model_set_id="1")
    )
    sdk.set_role_groups(role.id, [group.id])
    found = sdk.search_groups_with_roles(name="With roles")
    assert [r.id for r in found[0].roles] == [role.id]
    counted = sdk.search_roles_with_user_count(name="Admin")
    assert counted[0].user_count >= 1


def test_board_orders_only_name_their_own_children(sdk: SDK) -> None:
    board = sdk.create_board(m.WriteBoard(title="Ordered"))
    a = sdk.create_board_section(m.WriteBoardSection(board_id=board.id, title="A"))
    b = sdk.create_board_section(m.WriteBoardSection(board_id=board.id, title="B"))
    assert sdk.update_board(board.id, m.WriteBoard(section_order=[b.id, a.id])).section_order == [
        b.id,
        a.id,
    ]
    with pytest.raises(error.SDKError):
        sdk.update_board(board.id, m.WriteBoard(section_order=[a.id, "987654"]))
    assert status_of(sdk) == 422
    with pytest.raises(error.SDKError):
        sdk.create_board(m.WriteBoard(title="Too early", section_order=["1"]))
    assert status_of(sdk) == 422
    dash = _dashboard(sdk, "On board")
    item = sdk.create_board_item(m.WriteBoardItem(board_section_id=a.id, dashboard_id=dash.id))
    with pytest.raises(error.SDKError):
        sdk.update_board_section(a.id, m.WriteBoardSection(item_order=[item.id, "987654"]))
    assert status_of(sdk) == 422


def test_components_and_elements_stay_within_their_dashboard(sdk: SDK) -> None:
    one, two = _dashboard(sdk, "One"), _dashboard(sdk, "Two")
    el = sdk.create_dashboard_element(
        m.WriteDashboardElement(dashboard_id=one.id, type="text", body_text="x")
    )
    other_el = sdk.create_dashboard_element(
        m.WriteDashboardElement(dashboard_id=two.id, type="text", body_text="y")
    )
    comp = sdk.dashboard_layout_dashboard_layout_components(one.dashboard_layouts[0].id)[0]
    with pytest.raises(error.SDKError):
        sdk.update_dashboard_layout_component(
            comp.id, m.WriteDashboardLayoutComponent(dashboard_element_id=other_el.id)
        )
    assert status_of(sdk) == 422
    with pytest.raises(error.SDKError):
        sdk.update_dashboard_element(
            el.id, m.WriteDashboardElement(dashboard_layout_id=two.dashboard_layouts[0].id)
        )
    assert status_of(sdk) == 422


def test_a_slug_names_one_dashboard_of_the_instance(sdk: SDK) -> None:
    """Dashboard URLs accept the slug (`/dashboards/<slug>`), so an instance holds each slug once:
    a second dashboard asking for a taken slug is refused (422), a free one is kept."""
    first = sdk.create_dashboard(m.WriteDashboard(title="One", folder_id="1", slug="abcdEFGH"))
    assert first.slug == "abcdEFGH"
    with pytest.raises(error.SDKError) as refused:
        sdk.create_dashboard(m.WriteDashboard(title="Two", folder_id="1", slug="abcdEFGH"))
    assert status_of(sdk) == 422
    assert "slug" in str(refused.value).lower()
