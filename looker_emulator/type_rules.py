"""Looker's rules per resource type: defaults, couplings, cascades and refusals around writes.

`Api.create/update/delete` call the hooks named `_before_create_<table>`, `_after_create_<table>`,
`_before_update_<table>`, `_check_<table>` and `_before_delete_<table>` when a type has them.
"""

from __future__ import annotations

import secrets
from typing import Any

from looker_emulator.errors import ApiError, validation_failed
from looker_emulator.kinds import KINDS
from looker_emulator.spec import Spec
from looker_emulator.state import State, now_iso


class TypeRules:
    """Mixin of `Api`: per-type hooks around the generic writes."""

    spec: Spec
    state: State
    base_url: str
    _response_schema: str | None

    @staticmethod
    def _blank_null_names(v: dict[str, Any]) -> None:
        """Looker keeps a user's name set to null as "" (it reads back as an empty string)."""
        for name in ("first_name", "last_name"):
            if name in v and v[name] is None:
                v[name] = ""

    def _before_create_users(self, v: dict[str, Any], uid: str | None) -> dict[str, Any]:
        self._blank_null_names(v)
        creds = v.get("credentials_email")
        if creds:
            v["email"] = creds.get("email")
            self._check_email_free(v["email"], None)
        return v

    def _check_email_free(self, email: str | None, own_id: str | None) -> None:
        if email and self.state.lookup("users", "email", email) - {own_id}:
            raise validation_failed(
                [("email", "already_exists", f"email {email!r} is already in use")]
            )

    def _after_create_users(self, r: dict[str, Any], uid: str | None) -> None:
        r.setdefault("group_ids", [])
        r.setdefault("role_ids", [])
        roots = (
            self.state.get("folders", i) for i in self.state.lookup("folders", "parent_id", None)
        )
        users_root = next((f for f in roots if f and f.get("is_users_root")), None)
        if users_root is not None:
            name = (
                " ".join(p for p in (r.get("first_name"), r.get("last_name")) if p)
                or f"User {r['id']}"
            )
            folder = {
                "id": self.state.new_id("folders"),
                "name": name,
                "parent_id": users_root["id"],
                "is_personal": True,
                "creator_id": r["id"],
                "created_at": now_iso(),
            }
            self.state.insert("folders", folder)
            self.state.update("users", r["id"], {"personal_folder_id": folder["id"]})

    def _before_update_users(
        self, rec: dict[str, Any], v: dict[str, Any], uid: str | None
    ) -> dict[str, Any]:
        self._blank_null_names(v)
        creds = v.get("credentials_email")
        if creds is not None:
            self._check_email_free(creds.get("email"), rec["id"])
            v["credentials_email"] = {**(rec.get("credentials_email") or {}), **creds}
            v["email"] = v["credentials_email"].get("email")
        return v

    def _before_delete_users(self, r: dict[str, Any]) -> None:
        """Like Looker ("Removing user access" in its docs): the personal folder is deleted, the
        looks and dashboards in it go to the trash, and the user's schedules are deleted."""
        if r["id"] == self.state.api_user_id:
            raise ApiError(403, "You cannot delete yourself")
        folder = self.state.get("folders", r.get("personal_folder_id"))
        if folder is not None:
            self._trash_folder_tree(folder["id"], r["id"])
        self._delete_where("scheduled_plans", "user_id", r["id"])

    def _trash_folder_tree(self, fid: str, deleter_id: str) -> None:
        """Delete a folder and its subfolders, moving their looks and dashboards to the trash
        (they keep their folder_id; un-trashed, they go to the restoring user's personal folder)."""
        for child in self.state.children("folders", "parent_id", fid):
            self._trash_folder_tree(child["id"], deleter_id)
        stamp = now_iso()
        for table in ("looks", "dashboards"):
            for content in self.state.children(table, "folder_id", fid):
                if not content.get("deleted"):
                    self.state.update(
                        table,
                        content["id"],
                        {"deleted": True, "deleted_at": stamp, "deleter_id": deleter_id},
                    )
        self.state.delete("folders", fid)

    def _rehome_untrashed(self, rec: dict[str, Any], v: dict[str, Any], uid: str | None) -> None:
        """Content taken out of the trash whose folder is gone lands in the caller's personal
        folder, as Looker does for content of a deleted user."""
        untrashed = v.get("deleted") is False and rec.get("deleted") and "folder_id" not in v
        if not untrashed or self.state.get("folders", rec.get("folder_id")) is not None:
            return
        me = self.state.get("users", uid) or {}
        if me.get("personal_folder_id"):
            v["folder_id"] = me["personal_folder_id"]

    def _check_folders(self, v: dict[str, Any], old: dict[str, Any] | None) -> None:
        parent = v.get("parent_id")
        if (
            old is not None
            and (old.get("is_shared_root") or old.get("is_users_root") or old.get("is_personal"))
            and (v.get("parent_id") != old.get("parent_id") or v.get("name") != old.get("name"))
        ):
            raise validation_failed(
                [("name", "invalid", "system and personal folders cannot be renamed or moved")]
            )
        if parent is not None:
            p = self.state.get("folders", parent)
            if p and p.get("is_users_root") and old is None:
                raise validation_failed(
                    [("parent_id", "invalid", "folders cannot be created in the Users folder")]
                )
            anc = parent
            while old is not None and anc is not None:
                if anc == old["id"]:
                    raise validation_failed(
                        [("parent_id", "invalid", "a folder cannot be moved into itself")]
                    )
                anc = (self.state.get("folders", anc) or {}).get("parent_id")
        name = v.get("name")
        if name is not None:
            for fid in self.state.lookup("folders", "name", name):
                other = self.state.get("folders", fid)
                if other and other.get("parent_id") == parent and (old is None or fid != old["id"]):
                    raise validation_failed(
                        [
                            (
                                "name",
                                "already_exists",
                                f"A folder named {name!r} already exists in this parent",
                            )
                        ]
                    )

    def _before_create_folders(self, v: dict[str, Any], uid: str | None) -> dict[str, Any]:
        v["creator_id"] = uid
        return v

    def _before_delete_folders(self, r: dict[str, Any]) -> None:
        if (
            r.get("is_shared_root")
            or r.get("is_users_root")
            or r.get("is_personal")
            or r.get("is_embed_shared_root")
            or r.get("is_embed_users_root")
        ):
            raise validation_failed(
                [("id", "invalid", "system and personal folders cannot be deleted")]
            )
        for child in self.state.children("folders", "parent_id", r["id"]):
            self.delete(KINDS["folders"], child)
        self._delete_where("looks", "folder_id", r["id"])
        self._delete_where("dashboards", "folder_id", r["id"])

    def _before_create_looks(self, v: dict[str, Any], uid: str | None) -> dict[str, Any]:
        q = v.pop("query", None)
        if v.get("query_id") is None and q:
            v["query_id"] = self._new_query(q)["id"]
        if v.get("query_id") is None:
            raise validation_failed([("query_id", "missing", "This field is required.")])
        v.setdefault("user_id", uid)
        v.setdefault("deleted", False)
        return v

    def _before_update_looks(
        self, rec: dict[str, Any], v: dict[str, Any], uid: str | None
    ) -> dict[str, Any]:
        self._rehome_untrashed(rec, v, uid)
        q = v.pop("query", None)
        if q and "query_id" not in v:
            v["query_id"] = self._new_query(q)["id"]
        return v

    def _before_delete_looks(self, r: dict[str, Any]) -> None:
        self._delete_where("board_items", "look_id", r["id"])

    def _check_content_folder(self, v: dict[str, Any]) -> None:
        """Looks and dashboards live in Shared, its subfolders or personal folders, not in roots."""
        folder = self.state.get("folders", v.get("folder_id")) or {}
        if folder.get("is_users_root") or folder.get("is_embed_users_root"):
            raise validation_failed(
                [("folder_id", "invalid", "content cannot be saved in the Users root folder")]
            )

    def _check_looks(self, v: dict[str, Any], old: dict[str, Any] | None) -> None:
        self._check_content_folder(v)

    def _check_dashboards(self, v: dict[str, Any], old: dict[str, Any] | None) -> None:
        """The spec: "A dashboard's title must be unique within the space in which it resides"
        (among dashboards not in the trash). A slug names one dashboard of the instance."""
        self._check_content_folder(v)
        slug = v.get("slug")
        changed = slug and (old is None or slug != old.get("slug"))
        if changed and any(o.get("slug") == slug for o in self.state.all("dashboards")):
            raise validation_failed(
                [("slug", "already_exists", f"Slug {slug!r} is used by another dashboard")]
            )
        if v.get("deleted") or v.get("title") is None:
            return
        for did in self.state.lookup("dashboards", "title", v["title"]):
            other = self.state.get("dashboards", did)
            if (
                other
                and (old is None or did != old["id"])
                and not other.get("deleted")
                and other.get("folder_id") == v.get("folder_id")
                and other.get("title") == v["title"]
            ):
                raise validation_failed(
                    [
                        (
                            "title",
                            "already_exists",
                            f"A dashboard titled {v['title']!r} already exists in this folder",
                        )
                    ]
                )

    def _before_create_dashboards(self, v: dict[str, Any], uid: str | None) -> dict[str, Any]:
        v.pop("folder", None)
        v.setdefault("user_id", uid)
        v.setdefault("deleted", False)
        v["slug"] = v.get("slug") or secrets.token_hex(11)
        v.setdefault("preferred_viewer", "dashboards-next")
        return v

    def _before_update_dashboards(
        self, rec: dict[str, Any], v: dict[str, Any], uid: str | None
    ) -> dict[str, Any]:
        self._rehome_untrashed(rec, v, uid)
        v.pop("folder", None)
        return v

    def _after_create_dashboards(self, r: dict[str, Any], uid: str | None) -> None:
        self.create(
            KINDS["dashboard_layouts"],
            {
                "dashboard_id": r["id"],
                "type": "newspaper",
                "active": True,
                "column_width": None,
                "width": None,
            },
            uid,
        )

    def _before_delete_dashboards(self, r: dict[str, Any]) -> None:
        for table in ("dashboard_elements", "dashboard_filters", "dashboard_layouts"):
            for child in self.state.children(table, "dashboard_id", r["id"]):
                self.state.delete(table, child["id"])
                if table == "dashboard_layouts":
                    for c in self.state.children(
                        "dashboard_layout_components", "dashboard_layout_id", child["id"]
                    ):
                        self.state.delete("dashboard_layout_components", c["id"])
        self._delete_where("board_items", "dashboard_id", r["id"])

    def _before_create_dashboard_elements(
        self, v: dict[str, Any], uid: str | None
    ) -> dict[str, Any]:
        q = v.pop("query", None)
        v.pop("look", None)
        if v.get("query_id") is None and q and v.get("look_id") is None:
            v["query_id"] = self._new_query(q)["id"]
        if v.get("type") is None:
            v["type"] = "vis" if (v.get("query_id") or v.get("look_id")) else "text"
        return v

    def _before_update_dashboard_elements(
        self, rec: dict[str, Any], v: dict[str, Any], uid: str | None
    ) -> dict[str, Any]:
        q = v.pop("query", None)
        v.pop("look", None)
        if q and "query_id" not in v:
            v["query_id"] = self._new_query(q)["id"]
        if "dashboard_id" in v and v["dashboard_id"] != rec.get("dashboard_id"):
            raise validation_failed(
                [("dashboard_id", "invalid", "an element cannot move to another dashboard")]
            )
        return v

    def _after_create_dashboard_elements(self, r: dict[str, Any], uid: str | None) -> None:
        # Looker places every new element in each layout of its dashboard, below the others.
        for layout in self.state.children("dashboard_layouts", "dashboard_id", r["dashboard_id"]):
            self._add_component(layout["id"], r)

    def _add_component(self, layout_id: str, element: dict[str, Any]) -> None:
        comps = self.state.children("dashboard_layout_components", "dashboard_layout_id", layout_id)
        bottom = max(((c.get("row") or 0) + (c.get("height") or 0) for c in comps), default=0)
        height = 2 if element.get("type") == "text" else 6
        self.state.insert(
            "dashboard_layout_components",
            {
                "id": self.state.new_id("dashboard_layout_components"),
                "dashboard_layout_id": layout_id,
                "dashboard_element_id": element["id"],
                "row": bottom,
                "column": 0,
                "width": 8,
                "height": height,
                "deleted": False,
            },
        )

    def _before_delete_dashboard_elements(self, r: dict[str, Any]) -> None:
        for c in self.state.children(
            "dashboard_layout_components", "dashboard_element_id", r["id"]
        ):
            self.state.delete("dashboard_layout_components", c["id"])

    def _after_create_dashboard_layouts(self, r: dict[str, Any], uid: str | None) -> None:
        if r.get("active"):
            self._deactivate_other_layouts(r)
        for el in self.state.children("dashboard_elements", "dashboard_id", r["dashboard_id"]):
            self._add_component(r["id"], el)

    def _deactivate_other_layouts(self, r: dict[str, Any]) -> None:
        for other in self.state.children("dashboard_layouts", "dashboard_id", r["dashboard_id"]):
            if other["id"] != r["id"] and other.get("active"):
                self.state.update("dashboard_layouts", other["id"], {"active": False})

    def _before_update_dashboard_layouts(
        self, rec: dict[str, Any], v: dict[str, Any], uid: str | None
    ) -> dict[str, Any]:
        if "dashboard_id" in v and v["dashboard_id"] != rec.get("dashboard_id"):
            raise validation_failed(
                [("dashboard_id", "invalid", "a layout cannot move to another dashboard")]
            )
        if v.get("active"):
            self._deactivate_other_layouts(rec)
        return v

    def _before_delete_dashboard_layouts(self, r: dict[str, Any]) -> None:
        if r.get("active"):
            raise validation_failed(
                [("active", "invalid", "the active layout of a dashboard cannot be deleted")]
            )
        for c in self.state.children("dashboard_layout_components", "dashboard_layout_id", r["id"]):
            self.state.delete("dashboard_layout_components", c["id"])

    def _before_create_boards(self, v: dict[str, Any], uid: str | None) -> dict[str, Any]:
        v.setdefault("user_id", uid)
        v.setdefault("section_order", [])
        return v

    def _before_delete_boards(self, r: dict[str, Any]) -> None:
        self._delete_where("board_sections", "board_id", r["id"])

    def _check_order(self, field: str, ids: Any, own: set[str]) -> None:
        """An order list may only name this object's own children (not IDs of another instance)."""
        stray = [i for i in ids or [] if i not in own]
        if stray:
            raise validation_failed(
                [
                    (
                        field,
                        "invalid",
                        f"{field} names IDs that are not children of this object: {', '.join(map(str, stray))}",
                    )
                ]
            )

    def _check_dashboard_elements(self, v: dict[str, Any], old: dict[str, Any] | None) -> None:
        layout = self.state.get("dashboard_layouts", v.get("dashboard_layout_id"))
        if layout is not None and layout.get("dashboard_id") != v.get("dashboard_id"):
            raise validation_failed(
                [("dashboard_layout_id", "invalid", "the layout belongs to another dashboard")]
            )

    def _check_dashboard_layout_components(
        self, v: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        layout = self.state.get("dashboard_layouts", v.get("dashboard_layout_id")) or {}
        element = self.state.get("dashboard_elements", v.get("dashboard_element_id")) or {}
        if layout and element and layout.get("dashboard_id") != element.get("dashboard_id"):
            raise validation_failed(
                [
                    (
                        "dashboard_element_id",
                        "invalid",
                        "the element and the layout belong to different dashboards",
                    )
                ]
            )

    def _check_boards(self, v: dict[str, Any], old: dict[str, Any] | None) -> None:
        own = set(self.state.lookup("board_sections", "board_id", old["id"])) if old else set()
        self._check_order("section_order", v.get("section_order"), own)

    def _check_board_sections(self, v: dict[str, Any], old: dict[str, Any] | None) -> None:
        own = set(self.state.lookup("board_items", "board_section_id", old["id"])) if old else set()
        self._check_order("item_order", v.get("item_order"), own)

    def _before_create_board_sections(self, v: dict[str, Any], uid: str | None) -> dict[str, Any]:
        v.setdefault("item_order", [])
        return v

    def _after_create_board_sections(self, r: dict[str, Any], uid: str | None) -> None:
        board = self.state.get("boards", r["board_id"])
        if board is not None and r["id"] not in (board.get("section_order") or []):
            self.state.update(
                "boards",
                board["id"],
                {"section_order": [*(board.get("section_order") or []), r["id"]]},
            )

    def _before_delete_board_sections(self, r: dict[str, Any]) -> None:
        self._delete_where("board_items", "board_section_id", r["id"])
        board = self.state.get("boards", r.get("board_id"))
        if board is not None:
            order = [i for i in board.get("section_order") or [] if i != r["id"]]
            self.state.update("boards", board["id"], {"section_order": order})

    def _after_create_board_items(self, r: dict[str, Any], uid: str | None) -> None:
        section = self.state.get("board_sections", r["board_section_id"])
        if section is not None and r["id"] not in (section.get("item_order") or []):
            self.state.update(
                "board_sections",
                section["id"],
                {"item_order": [*(section.get("item_order") or []), r["id"]]},
            )

    def _before_delete_board_items(self, r: dict[str, Any]) -> None:
        section = self.state.get("board_sections", r.get("board_section_id"))
        if section is not None:
            order = [i for i in section.get("item_order") or [] if i != r["id"]]
            self.state.update("board_sections", section["id"], {"item_order": order})

    def _sp_destinations(
        self, plan_id: str, dests: list[dict[str, Any]] | None
    ) -> list[dict[str, Any]]:
        out = []
        for d in dests or []:
            d = {k: v for k, v in d.items() if k != "id"}
            d["id"] = self.state.new_id("scheduled_plan_destinations")
            d["scheduled_plan_id"] = plan_id
            out.append(d)
        return out

    def _before_create_scheduled_plans(self, v: dict[str, Any], uid: str | None) -> dict[str, Any]:
        v.setdefault("user_id", uid)
        v.setdefault("enabled", True)
        return v

    def _after_create_scheduled_plans(self, r: dict[str, Any], uid: str | None) -> None:
        r["scheduled_plan_destination"] = self._sp_destinations(
            r["id"], r.get("scheduled_plan_destination")
        )

    def _before_update_scheduled_plans(
        self, rec: dict[str, Any], v: dict[str, Any], uid: str | None
    ) -> dict[str, Any]:
        if "scheduled_plan_destination" in v:
            v["scheduled_plan_destination"] = self._sp_destinations(
                rec["id"], v["scheduled_plan_destination"]
            )
        return v

    def _before_update_permission_sets(
        self, rec: dict[str, Any], v: dict[str, Any], uid: str | None
    ) -> dict[str, Any]:
        if rec.get("built_in"):
            raise ApiError(405, "Built-in permission sets cannot be modified")
        return v

    def _before_update_model_sets(
        self, rec: dict[str, Any], v: dict[str, Any], uid: str | None
    ) -> dict[str, Any]:
        if rec.get("built_in"):
            raise ApiError(405, "Built-in model sets cannot be modified")
        return v

    def _before_delete_permission_sets(self, r: dict[str, Any]) -> None:
        if r.get("built_in"):
            raise ApiError(405, "Built-in permission sets cannot be deleted")
        if self.state.lookup("roles", "permission_set_id", r["id"]):
            raise validation_failed([("id", "invalid", "permission set is used by a role")])

    def _before_delete_model_sets(self, r: dict[str, Any]) -> None:
        if r.get("built_in"):
            raise ApiError(405, "Built-in model sets cannot be deleted")
        if self.state.lookup("roles", "model_set_id", r["id"]):
            raise validation_failed([("id", "invalid", "model set is used by a role")])

    def _before_update_roles(
        self, rec: dict[str, Any], v: dict[str, Any], uid: str | None
    ) -> dict[str, Any]:
        # The Admin role (the one on the built-in all-access permission set) is fixed, as in Looker.
        pset = self.state.get("permission_sets", rec.get("permission_set_id")) or {}
        if rec.get("name") == "Admin" and pset.get("built_in"):
            raise ApiError(405, "The Admin role cannot be modified")
        return v

    def _before_delete_roles(self, r: dict[str, Any]) -> None:
        for uid in list(self.state.lookup("users", "role_ids", r["id"])):
            u = self.state.get("users", uid)
            self.state.update(
                "users", uid, {"role_ids": [x for x in u["role_ids"] if x != r["id"]]}
            )
        self.state.role_groups.pop(r["id"], None)

    def _before_delete_groups(self, r: dict[str, Any]) -> None:
        for uid in list(self.state.lookup("users", "group_ids", r["id"])):
            u = self.state.get("users", uid)
            self.state.update(
                "users", uid, {"group_ids": [x for x in u["group_ids"] if x != r["id"]]}
            )
        for gids in self.state.role_groups.values():
            if r["id"] in gids:
                gids.remove(r["id"])
        self.state.group_groups.pop(r["id"], None)
        for gids in self.state.group_groups.values():
            if r["id"] in gids:
                gids.remove(r["id"])

    def _before_update_lookml_models(
        self, rec: dict[str, Any], v: dict[str, Any], uid: str | None
    ) -> dict[str, Any]:
        if "name" in v and v["name"] != rec["name"]:
            raise validation_failed([("name", "invalid", "a LookML model cannot be renamed")])
        return v

    def _before_delete_lookml_models(self, r: dict[str, Any]) -> None:
        for e in self.state.children("explores", "model_name", r["name"]):
            self.state.delete("explores", e["id"])
