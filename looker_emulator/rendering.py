"""Response objects built from stored records: schema defaults, nested children, computed fields."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from looker_emulator.kinds import DEFAULT_SCHEMA, KINDS, id_order
from looker_emulator.spec import Spec
from looker_emulator.state import State


def avatar_url(email: str | None) -> str:
    """Looker answers a Gravatar URL for every user (a blank image when there is no picture)."""
    digest = hashlib.md5((email or "").strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://gravatar.lookercdn.com/avatar/{digest}?s=156&d=blank"


class Rendering:
    """Mixin of `Api`: how each stored record is answered (see `render`)."""

    spec: Spec
    state: State
    base_url: str
    client_id: str
    _response_schema: str | None
    arrange: Callable[[list[Any]], list[Any]]

    def sub_resources(self, table: str, field: str, value: Any) -> list[dict[str, Any]]:
        """A parent's parts (SUB_RESOURCES) in the order they are answered (see `arrange`)."""
        return self.arrange(self.state.children(table, field, value))

    def render(
        self, table: str, record: dict[str, Any], *, deep: bool = True, schema: str | None = None
    ) -> dict[str, Any]:
        """A response object for a stored record, in `schema` (default: the type's full schema)."""
        fn = getattr(self, f"_render_{table}", None)
        kind = KINDS.get(table)
        if schema is None or schema not in self.spec.models:
            schema = kind.schema if kind else DEFAULT_SCHEMA[table]
        extra = fn(record, deep) if fn else {}
        return self.shape(schema, record, extra)

    def _render_users(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        display = " ".join(p for p in (r.get("first_name"), r.get("last_name")) if p) or None
        creds = r.get("credentials_email")
        return {
            "display_name": display,
            "credentials_email": self.shape(
                "CredentialsEmail",
                creds or {},
                {
                    "user_id": r["id"],
                    "type": "email",
                    "url": f"{self.base_url}/api/4.0/users/{r['id']}/credentials_email",
                },
            )
            if creds
            else None,
            "group_ids": list(r.get("group_ids") or []),
            "role_ids": list(r.get("role_ids") or []),
            "url": f"{self.base_url}/api/4.0/users/{r['id']}",
            "avatar_url": avatar_url(r.get("email")),
            "credentials_api3": self._api3_credentials(r),
            "looker_versions": [],
            "sessions": [],
        }

    def _api3_credentials(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        """The API user holds the emulator's client id, as a Looker API user holds its keys."""
        if r["id"] != self.state.api_user_id:
            return []
        return [
            self.shape(
                "CredentialsApi3",
                {
                    "id": "1",
                    "client_id": self.client_id,
                    "created_at": r.get("created_at"),
                    "is_disabled": False,
                    "type": "api3",
                    "url": f"{self.base_url}/api/4.0/users/{r['id']}/credentials_api3/1",
                },
            )
        ]

    def _user_public(self, u: dict[str, Any]) -> dict[str, Any]:
        """UserPublic: its names and avatar are strings, never null, in the spec."""
        return self.shape(
            "UserPublic",
            u,
            {
                "first_name": u.get("first_name") or "",
                "last_name": u.get("last_name") or "",
                "display_name": self._user_name(u["id"]),
                "avatar_url": avatar_url(u.get("email")),
            },
        )

    def _render_explores(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        # A non-nullable array in the spec: empty, not null, when the explore has none.
        return {"supported_measure_types": r.get("supported_measure_types") or []}

    def _render_groups(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"user_count": len(self.state.lookup("users", "group_ids", r["id"]))}
        if self._response_schema == "GroupSearch":
            roles = [rid for rid, gids in self.state.role_groups.items() if r["id"] in gids]
            out["roles"] = [
                self.render("roles", role)
                for role in (self.state.get("roles", i) for i in sorted(roles, key=id_order))
                if role
            ]
        return out

    def _render_permission_sets(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        return {"url": f"{self.base_url}/api/4.0/permission_sets/{r['id']}"}

    def _render_model_sets(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        return {"url": f"{self.base_url}/api/4.0/model_sets/{r['id']}"}

    def _render_roles(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        ps = self.state.get("permission_sets", r.get("permission_set_id"))
        ms = self.state.get("model_sets", r.get("model_set_id"))
        return {
            "permission_set": self.render("permission_sets", ps) if ps else None,
            "model_set": self.render("model_sets", ms) if ms else None,
            "url": f"{self.base_url}/api/4.0/roles/{r['id']}",
            "user_count": len(self.state.lookup("users", "role_ids", r["id"])),
            "users_url": f"{self.base_url}/api/4.0/roles/{r['id']}/users",
        }

    def _folder_base(self, fid: str | None) -> dict[str, Any] | None:
        f = self.state.get("folders", fid)
        return self.shape("FolderBase", f, self._render_folders(f, False)) if f else None

    def _render_folders(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "child_count": len(self.state.lookup("folders", "parent_id", r["id"])),
            "content_metadata_id": r.get("content_metadata_id") or r["id"],
        }
        if deep:
            out["dashboards"] = [
                self.shape("DashboardBase", d)
                for d in self.state.children("dashboards", "folder_id", r["id"])
                if not d.get("deleted")
            ]
            out["looks"] = [
                self.shape("LookWithDashboards", lk)
                for lk in self.state.children("looks", "folder_id", r["id"])
                if not lk.get("deleted")
            ]
        return out

    def _user_name(self, uid: str | None) -> str | None:
        u = self.state.get("users", uid)
        if not u:
            return None
        return " ".join(p for p in (u.get("first_name"), u.get("last_name")) if p) or None

    def _render_queries(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        return {
            "share_url": f"{self.base_url}/x/{r.get('slug')}",
            "expanded_share_url": f"{self.base_url}/explore/{r.get('model')}/{r.get('view')}?qid={r.get('client_id')}",
            "url": f"/explore/{r.get('model')}/{r.get('view')}?qid={r.get('client_id')}",
            "has_table_calculations": False,
            "can": {
                "run": True,
                "see_results": True,
                "explore": True,
                "create": True,
                "show": True,
            },
        }

    def _query(self, qid: str | None) -> dict[str, Any] | None:
        q = self.state.get("queries", qid)
        return self.render("queries", q) if q else None

    def _render_looks(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        q = self.state.get("queries", r.get("query_id"))
        model = self.state.get("lookml_models", q.get("model")) if q else None
        return {
            "query": self.render("queries", q) if q else None,
            "folder": self._folder_base(r.get("folder_id")),
            "user_name": self._user_name(r.get("user_id")),
            "model": {"id": model["name"], "label": model.get("label")} if model else None,
            "short_url": f"/looks/{r['id']}",
            "url": f"{self.base_url}/looks/{r['id']}",
            "embed_url": f"{self.base_url}/embed/looks/{r['id']}",
            "deleted": bool(r.get("deleted")),
            "view_count": r.get("view_count") or 0,
            "favorite_count": r.get("favorite_count") or 0,
        }

    def _render_dashboard_elements(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        look = self.state.get("looks", r.get("look_id"))
        return {
            "look": self.render("looks", look) if look else None,
            "query": self._query(r.get("query_id")),
            "edit_uri": f"/dashboards/{r.get('dashboard_id')}/elements/{r['id']}/edit",
            "body_text_as_html": r.get("body_text"),
            "title_text_as_html": r.get("title_text"),
            "subtitle_text_as_html": r.get("subtitle_text"),
            "note_text_as_html": r.get("note_text"),
        }

    def _render_dashboard_layout_components(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        el = self.state.get("dashboard_elements", r.get("dashboard_element_id")) or {}
        query = self.state.get("queries", el.get("query_id")) or {}
        return {
            "element_title": el.get("title"),
            "element_title_hidden": bool(el.get("title_hidden")),
            "vis_type": (
                (query.get("vis_config") or {}).get("type")
                if el.get("type") == "vis"
                else el.get("type")
            ),
        }

    def _render_dashboard_layouts(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        dash = self.state.get("dashboards", r.get("dashboard_id")) or {}
        return {
            "dashboard_title": dash.get("title"),
            "deleted": False,
            "dashboard_layout_components": [
                self.render("dashboard_layout_components", c)
                for c in self.sub_resources(
                    "dashboard_layout_components", "dashboard_layout_id", r["id"]
                )
            ],
        }

    def _render_dashboards(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        did = r["id"]
        out = {
            "folder": self._folder_base(r.get("folder_id")),
            "user_name": self._user_name(r.get("user_id")),
            "edit_uri": f"/dashboards/{did}/edit",
            "url": f"{self.base_url}/dashboards/{did}",
            "readonly": False,
            "deleted": bool(r.get("deleted")),
            "view_count": r.get("view_count") or 0,
            "favorite_count": r.get("favorite_count") or 0,
        }
        if deep:
            out["dashboard_elements"] = [
                self.render("dashboard_elements", e)
                for e in self.sub_resources("dashboard_elements", "dashboard_id", did)
            ]
            out["dashboard_filters"] = [
                self.render("dashboard_filters", f)
                for f in self.sub_resources("dashboard_filters", "dashboard_id", did)
            ]
            out["dashboard_layouts"] = [
                self.render("dashboard_layouts", lay)
                for lay in self.sub_resources("dashboard_layouts", "dashboard_id", did)
            ]
        return out

    def _render_lookml_models(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        explores = self.state.children("explores", "model_name", r["name"])
        return {
            "explores": [self.shape("LookmlModelNavExplore", e) for e in explores],
            "has_content": bool(explores),
        }

    def _render_board_items(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        content = self.state.get("dashboards", r.get("dashboard_id")) or self.state.get(
            "looks", r.get("look_id")
        )
        if r.get("dashboard_id"):
            url = f"/dashboards/{r['dashboard_id']}"
        elif r.get("look_id"):
            url = f"/looks/{r['look_id']}"
        else:
            url = r.get("custom_url") or ""
        return {
            "title": (content or {}).get("title"),
            "description": (content or {}).get("description"),
            "url": url,
            "location": None,
        }

    def _render_board_sections(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        return {
            "visible_item_order": list(r.get("item_order") or []),
            "board_items": [
                self.render("board_items", i)
                for i in self.sub_resources("board_items", "board_section_id", r["id"])
            ],
        }

    def _render_boards(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        return {
            "primary_homepage": bool(r.get("primary_homepage")),
            "board_sections": [
                self.render("board_sections", s)
                for s in self.sub_resources("board_sections", "board_id", r["id"])
            ],
        }

    def _render_scheduled_plans(self, r: dict[str, Any], deep: bool) -> dict[str, Any]:
        user = self.state.get("users", r.get("user_id"))
        content = self.state.get("dashboards", r.get("dashboard_id")) or self.state.get(
            "looks", r.get("look_id")
        )
        return {
            "title": (content or {}).get("title"),
            "user": self._user_public(user) if user else None,
            "scheduled_plan_destination": [
                self.shape("ScheduledPlanDestination", d)
                for d in r.get("scheduled_plan_destination") or []
            ],
        }
