"""Operations beyond plain CRUD: queries, explores, login, folders' views, memberships."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from typing import Any

from looker_emulator.errors import ApiError, not_found, validation_failed
from looker_emulator.kinds import (
    TOKEN_TTL_S,
    Request,
    base62,
    id_order,
    like_pattern,
    not_writable,
)
from looker_emulator.spec import Spec
from looker_emulator.state import State, now_iso


class Operations:
    """Mixin of `Api`: handlers of the non-CRUD operations (registered in `Api._register`)."""

    spec: Spec
    state: State
    base_url: str
    _response_schema: str | None
    tokens: dict[str, tuple[str, float]]
    sessions: dict[str, dict[str, Any]]
    default_color_collection_id: str
    client_id: str
    client_secret: str

    # -- queries and explores ----------------------------------------------------------------------
    def _new_query(self, values: dict[str, Any]) -> dict[str, Any]:
        values = {
            k: v for k, v in values.items() if not not_writable(self.spec.model("Query"), k, True)
        }
        model, view = values.get("model"), values.get("view")
        errs = []
        if not model:
            errs.append(("model", "missing", "This field is required."))
        if not view:
            errs.append(("view", "missing", "This field is required."))
        if not errs and not self.state.get("explores", f"{model}::{view}"):
            if not self.state.get("lookml_models", model):
                errs.append(("model", "invalid", f"model '{model}' not found"))
            else:
                errs.append(("view", "invalid", f"explore '{view}' not found in model '{model}'"))
        if errs:
            raise validation_failed(errs)
        qid = self.state.new_id("queries")
        digest = hashlib.sha1(f"q{qid}".encode()).hexdigest()
        record = {
            **values,
            "id": qid,
            "slug": base62(int(digest[:12], 16))[:7],
            "client_id": base62(int(digest[12:40], 16))[:22],
        }
        self.state.insert("queries", record)
        return record

    def op_create_query(self, req: Request) -> Any:
        values = self.check_body(req, create=True)
        return self.respond_one("queries", self._new_query(values), req.query)

    def op_query(self, req: Request) -> Any:
        return self.respond_one("queries", self.load("queries", req.params["query_id"]), req.query)

    def op_query_for_slug(self, req: Request) -> Any:
        ids = self.state.lookup("queries", "slug", req.params["slug"])
        if not ids:
            raise not_found()
        return self.respond_one("queries", self.load("queries", sorted(ids)[0]), req.query)

    def op_create_merge_query(self, req: Request) -> Any:
        """A merge of saved queries (Looker's "merged results"); each source query must exist."""
        values = self.check_body(req, create=True)
        sources = values.get("source_queries") or []
        errs = [
            (f"source_queries[{i}].query_id", "invalid", f"query {src.get('query_id')} not found")
            for i, src in enumerate(sources)
            if self.state.get("queries", src.get("query_id")) is None
        ]
        if not sources:
            errs.append(("source_queries", "missing", "This field is required."))
        if errs:
            raise validation_failed(errs)
        record = {**values, "id": self.state.new_id("merge_queries")}
        self.state.insert("merge_queries", record)
        return self.respond_one("merge_queries", record, req.query)

    def op_merge_query(self, req: Request) -> Any:
        record = self.load("merge_queries", req.params["merge_query_id"])
        return self.respond_one("merge_queries", record, req.query)

    def op_explore(self, req: Request) -> Any:
        key = f"{req.params['lookml_model_name']}::{req.params['explore_name']}"
        return self.respond_one("explores", self.load("explores", key), req.query)

    # -- auth and misc -----------------------------------------------------------------------------
    def op_login(self, req: Request) -> Any:
        form = req.body if isinstance(req.body, dict) else {}
        cid = form.get("client_id") or req.query.get("client_id")
        secret = form.get("client_secret") or req.query.get("client_secret")
        if cid != self.client_id or secret != self.client_secret or self.state.api_user_id is None:
            raise not_found()
        token = secrets.token_urlsafe(30)
        self.tokens[token] = (self.state.api_user_id, time.time() + TOKEN_TTL_S)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_S,
            "refresh_token": None,
        }

    def op_login_user(self, req: Request) -> Any:
        """POST /login/{user_id}: a token acting as that user (Looker's sudo), for an admin."""
        user = self.load("users", req.params["user_id"])
        if user.get("is_disabled"):
            raise not_found()
        token = secrets.token_urlsafe(30)
        self.tokens[token] = (user["id"], time.time() + TOKEN_TTL_S)
        self.sessions[token] = {"workspace_id": "production", "sudo_user_id": user["id"]}
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_S,
            "refresh_token": None,
        }

    def _session(self, req: Request) -> dict[str, Any]:
        return self.sessions.setdefault(
            req.token or "", {"workspace_id": "production", "sudo_user_id": None}
        )

    def op_session(self, req: Request) -> Any:
        return self.shape("ApiSession", self._session(req))

    def op_update_session(self, req: Request) -> Any:
        body = self.check_body(req, create=False)
        workspace = body.get("workspace_id")
        if workspace is not None and workspace not in ("production", "dev"):
            raise validation_failed([("workspace_id", "invalid", "must be production or dev")])
        session = self._session(req)
        if workspace is not None:
            session["workspace_id"] = workspace
        return self.shape("ApiSession", session)

    # Looker's built-in color collections (a few; their palettes left out).
    COLOR_COLLECTIONS = (
        ("looker", "Looker"),
        ("dashboard", "Dashboard"),
        ("boardroom", "Boardroom"),
        ("vivid", "Vivid"),
    )

    def _color_collection(self, cid: str) -> dict[str, Any]:
        label = dict(self.COLOR_COLLECTIONS).get(cid)
        if label is None:
            raise not_found()
        return self.shape(
            "ColorCollection",
            {"id": cid, "label": label},
            {"categoricalPalettes": [], "sequentialPalettes": [], "divergingPalettes": []},
        )

    def op_all_color_collections(self, req: Request) -> Any:
        return [self._color_collection(cid) for cid, _ in self.COLOR_COLLECTIONS]

    def op_color_collection(self, req: Request) -> Any:
        return self._color_collection(req.params["collection_id"])

    def op_default_color_collection(self, req: Request) -> Any:
        return self._color_collection(self.default_color_collection_id)

    def op_set_default_color_collection(self, req: Request) -> Any:
        cid = req.query.get("collection_id") or ""
        collection = self._color_collection(cid)
        self.default_color_collection_id = cid
        return collection

    def op_search_users_names(self, req: Request) -> Any:
        """Users whose first name, last name, full name or email match the LIKE pattern."""
        rx = like_pattern(req.params["pattern"])
        rows = self.search("users", req.query, req.route)

        def hit(u: dict[str, Any]) -> bool:
            first, last = u.get("first_name") or "", u.get("last_name") or ""
            names = (first, last, f"{first} {last}".strip(), u.get("email") or "")
            return any(rx.fullmatch(n) for n in names if n)

        return self.respond_list("users", [u for u in rows if hit(u)], req.query)

    def op_logout(self, req: Request) -> Any:
        self.tokens.pop(req.token or "", None)
        self.sessions.pop(req.token or "", None)
        return None

    def op_versions(self, req: Request) -> Any:
        full = self.spec.version
        return {
            "looker_release_version": self.spec.release,
            "current_version": {
                "version": "4.0",
                "full_version": full,
                "status": "current",
                "swagger_url": f"{self.base_url}/api/4.0/swagger.json",
            },
            "supported_versions": [
                {
                    "version": "4.0",
                    "full_version": full,
                    "status": "current",
                    "swagger_url": f"{self.base_url}/api/4.0/swagger.json",
                }
            ],
            "api_server_url": self.base_url,
            "web_server_url": self.base_url,
        }

    def op_me(self, req: Request) -> Any:
        return self.respond_one("users", self.load("users", req.user_id or ""), req.query)

    # -- folders -----------------------------------------------------------------------------------
    def op_folder_parent(self, req: Request) -> Any:
        f = self.load("folders", req.params["folder_id"])
        return self.respond_one(
            "folders", self.load("folders", f.get("parent_id") or ""), req.query
        )

    def op_folder_ancestors(self, req: Request) -> Any:
        f = self.load("folders", req.params["folder_id"])
        chain = []
        pid = f.get("parent_id")
        while pid is not None and len(chain) < 1000:
            p = self.state.get("folders", pid)
            if p is None:
                break
            chain.append(p)
            pid = p.get("parent_id")
        return self.respond_list("folders", reversed(chain), req.query)

    def op_folder_children_search(self, req: Request) -> Any:
        fid = req.params["folder_id"]
        self.load("folders", fid)
        rows = self.search("folders", req.query, req.route)
        return self.respond_list(
            "folders", [r for r in rows if r.get("parent_id") == fid], req.query
        )

    def op_scheduled_plans_for_space(self, req: Request) -> Any:
        fid = req.params["space_id"]
        self.load("folders", fid)
        rows = []
        for table, fname in (("dashboards", "dashboard_id"), ("looks", "look_id")):
            for content in self.state.children(table, "folder_id", fid):
                rows.extend(self.state.children("scheduled_plans", fname, content["id"]))
        return self.respond_list("scheduled_plans", rows, req.query)

    def op_all_board_items(self, req: Request) -> Any:
        rows = self.state.all("board_items")
        if req.query.get("board_section_id"):
            rows = self.state.children(
                "board_items", "board_section_id", req.query["board_section_id"]
            )
        return self.respond_list("board_items", rows, req.query)

    # -- memberships -------------------------------------------------------------------------------
    def _users_by_ids(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        return [u for u in (self.state.get("users", i) for i in sorted(ids, key=id_order)) if u]

    def op_all_group_users(self, req: Request) -> Any:
        gid = req.params["group_id"]
        self.load("groups", gid)
        return self.respond_list(
            "users", self._users_by_ids(self.state.lookup("users", "group_ids", gid)), req.query
        )

    def op_add_group_user(self, req: Request) -> Any:
        gid = req.params["group_id"]
        self.load("groups", gid)
        body = self.check_body(req, create=False)
        uid = body.get("user_id")
        user = self.state.get("users", uid) if uid else None
        if user is None:
            raise validation_failed([("user_id", "invalid", f"user_id {uid} does not exist")])
        if gid not in user.get("group_ids", []):
            self.state.update("users", uid, {"group_ids": [*user.get("group_ids", []), gid]})
        return self.respond_one("users", user, req.query)

    def op_delete_group_user(self, req: Request) -> Any:
        gid, uid = req.params["group_id"], req.params["user_id"]
        self.load("groups", gid)
        user = self.load("users", uid)
        if gid not in user.get("group_ids", []):
            raise not_found()
        self.state.update("users", uid, {"group_ids": [g for g in user["group_ids"] if g != gid]})
        return None

    def op_all_group_groups(self, req: Request) -> Any:
        gid = req.params["group_id"]
        self.load("groups", gid)
        ids = self.state.group_groups.get(gid, [])
        return self.respond_list(
            "groups", [g for g in (self.state.get("groups", i) for i in ids) if g], req.query
        )

    def op_add_group_group(self, req: Request) -> Any:
        gid = req.params["group_id"]
        self.load("groups", gid)
        body = self.check_body(req, create=False)
        child = self.state.get("groups", body.get("group_id")) if body.get("group_id") else None
        if child is None:
            raise validation_failed(
                [("group_id", "invalid", f"group_id {body.get('group_id')} does not exist")]
            )
        members = self.state.group_groups.setdefault(gid, [])
        if child["id"] not in members:
            members.append(child["id"])
        return self.respond_one("groups", child, req.query)

    def op_delete_group_from_group(self, req: Request) -> Any:
        gid, child = req.params["group_id"], req.params["deleting_group_id"]
        members = self.state.group_groups.get(gid, [])
        if child not in members:
            raise not_found()
        members.remove(child)
        return None

    def _check_ids(self, table: str, ids: list[str]) -> None:
        missing = [i for i in ids if self.state.get(table, i) is None]
        if missing:
            raise validation_failed(
                [("body", "invalid", f"{table} do not exist: {', '.join(missing)}")]
            )

    def op_role_groups(self, req: Request) -> Any:
        rid = req.params["role_id"]
        self.load("roles", rid)
        ids = self.state.role_groups.get(rid, [])
        return self.respond_list(
            "groups", [g for g in (self.state.get("groups", i) for i in ids) if g], req.query
        )

    def op_set_role_groups(self, req: Request) -> Any:
        rid = req.params["role_id"]
        self.load("roles", rid)
        ids = list(dict.fromkeys(self.check_body(req, create=False)))
        self._check_ids("groups", ids)
        self.state.role_groups[rid] = ids
        return self.respond_list("groups", [self.state.get("groups", i) for i in ids], {})

    def op_role_users(self, req: Request) -> Any:
        rid = req.params["role_id"]
        self.load("roles", rid)
        return self.respond_list(
            "users", self._users_by_ids(self.state.lookup("users", "role_ids", rid)), req.query
        )

    def op_set_role_users(self, req: Request) -> Any:
        rid = req.params["role_id"]
        self.load("roles", rid)
        ids = list(dict.fromkeys(self.check_body(req, create=False)))
        self._check_ids("users", ids)
        for uid in set(self.state.lookup("users", "role_ids", rid)) - set(ids):
            u = self.state.get("users", uid)
            self.state.update("users", uid, {"role_ids": [r for r in u["role_ids"] if r != rid]})
        for uid in ids:
            u = self.state.get("users", uid)
            if rid not in (u.get("role_ids") or []):
                self.state.update("users", uid, {"role_ids": [*(u.get("role_ids") or []), rid]})
        return self.respond_list("users", self._users_by_ids(ids), {})

    def op_user_roles(self, req: Request) -> Any:
        user = self.load("users", req.params["user_id"])
        ids = list(user.get("role_ids") or [])
        if req.query.get("direct_association_only", "").lower() != "true":
            for gid in user.get("group_ids") or []:
                for rid, gids in self.state.role_groups.items():
                    if gid in gids and rid not in ids:
                        ids.append(rid)
        return self.respond_list(
            "roles", [r for r in (self.state.get("roles", i) for i in ids) if r], req.query
        )

    def op_set_user_roles(self, req: Request) -> Any:
        user = self.load("users", req.params["user_id"])
        ids = list(dict.fromkeys(self.check_body(req, create=False)))
        self._check_ids("roles", ids)
        self.state.update("users", user["id"], {"role_ids": ids, "updated_at": now_iso()})
        return self.respond_list("roles", [self.state.get("roles", i) for i in ids], req.query)

    def op_user_credentials_email(self, req: Request) -> Any:
        user = self.load("users", req.params["user_id"])
        if not user.get("credentials_email"):
            raise not_found()
        return self.render("users", user)["credentials_email"]

    def op_set_user_credentials_email(self, req: Request) -> Any:
        user = self.load("users", req.params["user_id"])
        body = self.check_body(req, create=False)
        if req.route.method == "POST" and user.get("credentials_email"):
            raise ApiError(409, "Email credentials already exist for this user")
        if req.route.method == "PATCH" and not user.get("credentials_email"):
            raise not_found()
        self._check_email_free(body.get("email"), user["id"])
        creds = {**(user.get("credentials_email") or {}), **body}
        if "created_at" not in creds:
            creds["created_at"] = now_iso()
        self.state.update(
            "users",
            user["id"],
            {"credentials_email": creds, "email": creds.get("email"), "updated_at": now_iso()},
        )
        return self.render("users", user)["credentials_email"]

    def op_delete_user_credentials_email(self, req: Request) -> Any:
        user = self.load("users", req.params["user_id"])
        if not user.get("credentials_email"):
            raise not_found()
        self.state.update("users", user["id"], {"credentials_email": None, "email": None})
        return None
