"""Looker's behaviour per resource: create/read/update/delete/search and the couplings between them.

Each handler is registered under the spec's operationId; the server finds the operation from the spec's
paths and calls `Api.handle`. Field lists (writable, read-only, response fields) come from the spec.
The API is assembled from mixins: `Rendering` (responses), `Listing` (searches), `TypeRules` (per-type
hooks) and `Operations` (non-CRUD handlers).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any

from looker_emulator.errors import ApiError, not_found, validation_failed
from looker_emulator.kinds import CAN, KINDS, Kind, Request, not_writable
from looker_emulator.listing import Listing
from looker_emulator.operations import Operations
from looker_emulator.rendering import Rendering
from looker_emulator.spec import Spec
from looker_emulator.state import KEY_FIELD, State, now_iso
from looker_emulator.type_rules import TypeRules
from looker_emulator.validation import validate_array_of_strings, validate_model

__all__ = ["KINDS", "Api", "Kind", "Request"]

# Parts whose writes count as a change of their parent: table -> (parent table, foreign key).
PARENT = {
    "dashboard_elements": ("dashboards", "dashboard_id"),
    "dashboard_filters": ("dashboards", "dashboard_id"),
    "dashboard_layouts": ("dashboards", "dashboard_id"),
    "dashboard_layout_components": ("dashboard_layouts", "dashboard_layout_id"),
    "board_sections": ("boards", "board_id"),
    "board_items": ("board_sections", "board_section_id"),
}

# Operations listing a parent's sub-resources: op -> (table, foreign key, parent table, live only).
CHILD_LISTS: dict[str, tuple[str, str, str, bool]] = {
    "dashboard_dashboard_elements": ("dashboard_elements", "dashboard_id", "dashboards", False),
    "dashboard_dashboard_filters": ("dashboard_filters", "dashboard_id", "dashboards", False),
    "dashboard_dashboard_layouts": ("dashboard_layouts", "dashboard_id", "dashboards", False),
    "dashboard_layout_dashboard_layout_components": (
        "dashboard_layout_components",
        "dashboard_layout_id",
        "dashboard_layouts",
        False,
    ),
    "folder_children": ("folders", "parent_id", "folders", False),
    "folder_looks": ("looks", "folder_id", "folders", True),
    "folder_dashboards": ("dashboards", "folder_id", "folders", True),
    "scheduled_plans_for_dashboard": ("scheduled_plans", "dashboard_id", "dashboards", False),
    "scheduled_plans_for_look": ("scheduled_plans", "look_id", "looks", False),
}

# Operations handled by the method `op_<operationId>` (of `Operations` and the other mixins).
SAME_NAME_OPS = (
    "login",
    "logout",
    "versions",
    "me",
    "login_user",
    "session",
    "update_session",
    "all_color_collections",
    "color_collection",
    "default_color_collection",
    "set_default_color_collection",
    "search_users_names",
    "create_merge_query",
    "merge_query",
    "create_query",
    "query",
    "query_for_slug",
    "folder_children_search",
    "folder_parent",
    "folder_ancestors",
    "scheduled_plans_for_space",
    "all_group_users",
    "add_group_user",
    "delete_group_user",
    "all_group_groups",
    "add_group_group",
    "delete_group_from_group",
    "role_groups",
    "set_role_groups",
    "role_users",
    "set_role_users",
    "user_roles",
    "set_user_roles",
    "user_credentials_email",
    "delete_user_credentials_email",
    "all_board_items",
)
# Operations whose method has another name.
RENAMED_OPS = {
    "lookml_model_explore": "op_explore",
    "create_user_credentials_email": "op_set_user_credentials_email",
    "update_user_credentials_email": "op_set_user_credentials_email",
}


def _as_stored(rows: list[Any]) -> list[Any]:
    return rows


class Api(Rendering, Listing, TypeRules, Operations):
    """The emulated Looker API over one State."""

    def __init__(
        self,
        spec: Spec,
        state: State,
        *,
        strict: bool = True,
        client_id: str = "lookervault",
        client_secret: str = "emulator-secret",
        base_url: str = "http://127.0.0.1",
    ) -> None:
        self.spec = spec
        self.state = state
        self.strict = strict
        self.client_id = client_id
        self.client_secret = client_secret
        self.base_url = base_url
        self.tokens: dict[str, tuple[str, float]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}  # token -> ApiSession fields
        self.default_color_collection_id = "looker"
        self._response_schema: str | None = None
        self.violations: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self._defaults: dict[str, dict[str, Any]] = {}
        self.handlers: dict[str, Callable[[Request], Any]] = {}
        # The order a parent's parts are answered in; the Emulator shuffles them when told to.
        self.arrange: Callable[[list[Any]], list[Any]] = _as_stored
        self._register()

    # -- plumbing ----------------------------------------------------------------------------------
    def defaults(self, schema: str) -> dict[str, Any]:
        """Every field of a response schema with Looker's empty value (null, or false for booleans)."""
        d = self._defaults.get(schema)
        if d is None:
            model = self.spec.model(schema)
            d = {
                n: (False if f.type == "boolean" and not f.nullable else None)
                for n, f in model.fields.items()
            }
            if "can" in d:
                d["can"] = CAN
            self._defaults[schema] = d
        return d

    def shape(self, schema: str, *parts: dict[str, Any]) -> dict[str, Any]:
        """A response object: schema defaults overlaid with parts, limited to the schema's fields."""
        out = dict(self.defaults(schema))
        for part in parts:
            for k, v in part.items():
                if k in out:
                    out[k] = v
        return out

    def authenticate(self, header: str | None) -> str | None:
        """The user id of a valid `token X` / `Bearer X` Authorization header, else None."""
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token:
            return None
        entry = self.tokens.get(token.strip())
        if entry is None or entry[1] < time.time():
            return None
        return entry[0]

    def handle(self, op_id: str, req: Request) -> Any:
        handler = self.handlers.get(op_id)
        if handler is None:
            raise ApiError(404, "Not found")
        # Top-level objects are shaped as this operation's response schema says (search_looks
        # answers Look, look answers LookWithQuery, search_roles answers RoleSearch...).
        self._response_schema = req.route.response_schema
        try:
            return handler(req)
        finally:
            self._response_schema = None

    def implemented(self, op_id: str) -> bool:
        return op_id in self.handlers

    # -- body checks -------------------------------------------------------------------------------
    def check_body(self, req: Request, *, create: bool, kind: Kind | None = None) -> dict[str, Any]:
        body = req.body
        if body is None:
            body = {}
        route = req.route
        if route.body_is_array:
            errs = validate_array_of_strings(body)
            if errs:
                raise validation_failed(errs)
            return body
        schema = route.body_schema
        if schema is None:
            return body if isinstance(body, dict) else {}
        model = self.spec.model(schema)
        body = self._numbers_as_strings(route.operation_id, model, body)
        # A body schema whose every field is marked read-only (GroupIdForGroupUserInclusion) is a
        # quirk of the spec: those fields are the input, so they are accepted.
        ro_applies = bool(model.writable)
        errs = validate_model(self.spec, model, body, strict=True)
        if not ro_applies:
            errs = [e for e in errs if e[1] != "read_only"]
        # Read-only and unknown fields are counted (GET /_emulator/stats: spec_violations) in both
        # modes; only strict mode refuses the request for them.
        for fname, code, _msg in errs:
            if code in ("read_only", "unknown"):
                self.violations[(route.operation_id, fname, code)] += 1
        if not self.strict:
            errs = [e for e in errs if e[1] not in ("read_only", "unknown")]
        required = set(model.required) | set(kind.required if kind else ())
        for name in sorted(required):
            # On create a required field must be given; on update it may be left out, not cleared.
            if (create or name in body) and body.get(name) in (None, ""):
                errs.append((name, "missing", "This field is required."))
        if errs:
            raise validation_failed(errs)
        return {
            k: v
            for k, v in body.items()
            if k in model.fields and not not_writable(model, k, ro_applies)
        }

    def _numbers_as_strings(self, op_id: str, model: Any, body: Any) -> Any:
        """Looker takes a number where the spec says string (`"limit": 100` in create_query) and
        stores it as the string; counted as a spec violation (code `number_for_string`)."""
        if not isinstance(body, dict):
            return body
        out = dict(body)
        for name, value in body.items():
            fspec = model.fields.get(name)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if fspec is not None and fspec.type == "string" and number:
                out[name] = str(value)
                self.violations[(op_id, name, "number_for_string")] += 1
        return out

    def check_refs(self, kind: Kind, values: dict[str, Any]) -> None:
        errs = []
        for fname, table in kind.refs.items():
            value = values.get(fname)
            if value is not None and self.state.get(table, str(value)) is None:
                errs.append((fname, "invalid", f"{fname} {value} does not exist"))
        if errs:
            raise validation_failed(errs)

    def check_unique(self, kind: Kind, values: dict[str, Any], own_id: str | None) -> None:
        for fname in kind.unique:
            value = values.get(fname)
            if value is None:
                continue
            if KEY_FIELD.get(kind.table) == fname:
                clash = {value} if self.state.get(kind.table, value) and value != own_id else set()
            else:
                clash = self.state.lookup(kind.table, fname, value) - {own_id}
            if clash:
                raise validation_failed(
                    [(fname, "already_exists", f"{kind.singular} {fname} {value!r} already exists")]
                )

    def load(self, table: str, rid: str) -> dict[str, Any]:
        record = self.state.get(table, rid)
        if record is None:
            raise not_found()
        return record

    # -- registration ------------------------------------------------------------------------------
    def _register(self) -> None:
        """Fill `handlers`: CRUD per kind, sub-resource lists, the other operations; then keep only
        the operations the spec has."""
        h = self.handlers
        for kind in KINDS.values():
            t, s = kind.table, kind.singular
            h[f"all_{t}"] = self._make_list(kind)
            h[f"search_{t}"] = self._make_search(kind)
            h[s] = self._make_get(kind)
            h[f"create_{s}"] = self._make_create(kind)
            h[f"update_{s}"] = self._make_update(kind)
            h[f"delete_{s}"] = self._make_delete(kind)
        for op_id, (table, fname, parent, live) in CHILD_LISTS.items():
            h[op_id] = self._children_op(table, fname, parent, live=live)
        h.update({op_id: getattr(self, f"op_{op_id}") for op_id in SAME_NAME_OPS})
        h.update({op_id: getattr(self, method) for op_id, method in RENAMED_OPS.items()})
        h["move_dashboard"] = self._make_move(KINDS["dashboards"])
        h["move_look"] = self._make_move(KINDS["looks"])
        h["search_roles_with_user_count"] = self._make_list(KINDS["roles"])
        h["search_groups_with_roles"] = self._make_list(KINDS["groups"])
        h.pop("search_lookml_models", None)
        h.pop("search_dashboard_layouts", None)
        for name in list(h):
            if not any(r.operation_id == name for r in self.spec.routes):
                del h[name]

    def _make_move(self, kind: Kind) -> Callable[[Request], Any]:
        def op(req: Request) -> Any:
            record = self.load(kind.table, req.params[req.route.params[0]])
            folder_id = req.query.get("folder_id")
            if not folder_id:
                raise validation_failed([("folder_id", "missing", "This field is required.")])
            record = self.update(kind, record, {"folder_id": folder_id}, req.user_id)
            return self.respond_one(kind.table, record, {})

        return op

    def _id_param(self, req: Request) -> str:
        return req.params[req.route.params[-1]] if req.route.params else ""

    def _make_list(self, kind: Kind) -> Callable[[Request], Any]:
        def op(req: Request) -> Any:
            query = req.query
            if (
                kind.table == "scheduled_plans"
                and "all_users" in req.route.query_params
                and query.get("all_users", "").lower() != "true"
                and not query.get("user_id")
            ):
                # Like Looker: without all_users=true only the caller's own plans are listed.
                query = {**query, "user_id": req.user_id or ""}
            rows = self.search(kind.table, query, req.route)
            return self.respond_list(kind.table, rows, query)

        return op

    _make_search = _make_list

    def _make_get(self, kind: Kind) -> Callable[[Request], Any]:
        def op(req: Request) -> Any:
            rid = self._id_param(req)
            if kind.table == "users" and rid == "me":  # GET /users/me, as Looker answers it
                rid = req.user_id or ""
            return self.respond_one(kind.table, self.load(kind.table, rid), req.query)

        return op

    def _make_create(self, kind: Kind) -> Callable[[Request], Any]:
        def op(req: Request) -> Any:
            values = self.check_body(req, create=True, kind=kind)
            record = self.create(kind, values, req.user_id)
            return self.respond_one(kind.table, record, req.query)

        return op

    def _make_update(self, kind: Kind) -> Callable[[Request], Any]:
        def op(req: Request) -> Any:
            rid = self._id_param(req)
            record = self.load(kind.table, rid)
            values = self.check_body(req, create=False, kind=kind)
            record = self.update(kind, record, values, req.user_id)
            return self.respond_one(kind.table, record, req.query)

        return op

    def _make_delete(self, kind: Kind) -> Callable[[Request], Any]:
        def op(req: Request) -> Any:
            rid = self._id_param(req)
            record = self.load(kind.table, rid)
            self.delete(kind, record)
            return None

        return op

    def _children_op(
        self, table: str, fname: str, parent: str, live: bool = False
    ) -> Callable[[Request], Any]:
        def op(req: Request) -> Any:
            pid = self._id_param(req)
            self.load(parent, pid)
            rows = self.state.children(table, fname, pid)
            if live:
                rows = [r for r in rows if not r.get("deleted")]
            return self.respond_list(table, rows, req.query)

        return op

    # -- generic writes ----------------------------------------------------------------------------
    def create(self, kind: Kind, values: dict[str, Any], user_id: str | None) -> dict[str, Any]:
        st = self.state
        prepare = getattr(self, f"_before_create_{kind.table}", None)
        if prepare:
            values = prepare(values, user_id)
        self.check_refs(kind, values)
        self.check_unique(kind, values, None)
        check = getattr(self, f"_check_{kind.table}", None)
        if check:
            check(values, None)
        key = KEY_FIELD.get(kind.table, "id")
        stamp = now_iso()
        record = dict(values)
        if key == "id":
            record["id"] = st.new_id(kind.table)
        if "created_at" in self.spec.model(kind.schema).fields:
            record["created_at"] = stamp
        record["updated_at"] = stamp
        st.insert(kind.table, record)
        after = getattr(self, f"_after_create_{kind.table}", None)
        if after:
            after(record, user_id)
        self._touch_parent(kind.table, record)
        return record

    def _touch_parent(self, table: str, record: dict[str, Any]) -> None:
        """A write to a dashboard's or board's parts updates the dashboard's / board's updated_at."""
        while table in PARENT:
            table, fk = PARENT[table]
            record = self.state.get(table, record.get(fk)) or {}
            if not record:
                return
            self.state.update(table, record["id"], {"updated_at": now_iso()})

    def update(
        self, kind: Kind, record: dict[str, Any], values: dict[str, Any], user_id: str | None
    ) -> dict[str, Any]:
        prepare = getattr(self, f"_before_update_{kind.table}", None)
        if prepare:
            values = prepare(record, values, user_id)
        self.check_refs(kind, values)
        self.check_unique(kind, values, record.get(KEY_FIELD.get(kind.table, "id")))
        check = getattr(self, f"_check_{kind.table}", None)
        if check:
            check({**record, **values}, record)
        if kind.soft_delete and "deleted" in values:
            if values["deleted"] and not record.get("deleted"):
                values["deleted_at"] = now_iso()
                values["deleter_id"] = user_id
            elif values["deleted"] is False:
                values["deleted_at"] = None
                values["deleter_id"] = None
        values["updated_at"] = now_iso()
        if kind.table in ("looks", "dashboards"):
            values["last_updater_id"] = user_id
        updated = self.state.update(kind.table, record[KEY_FIELD.get(kind.table, "id")], values)
        self._touch_parent(kind.table, updated)
        return updated

    def delete(self, kind: Kind, record: dict[str, Any]) -> None:
        before = getattr(self, f"_before_delete_{kind.table}", None)
        if before:
            before(record)
        self.state.delete(kind.table, record[KEY_FIELD.get(kind.table, "id")])
        self._touch_parent(kind.table, record)

    def _delete_where(self, table: str, fname: str, value: str) -> None:
        for rec in self.state.children(table, fname, value):
            self.delete(KINDS[table], rec)
