"""Compare a Looker instance with a backup, field by field (test side, independent of the engine).

Writable fields come straight from the spec (not from the engine's generated list). References are
translated through the ID map the restore recorded (identity when there is no row, same instance).
Sub-resources: dashboard filters (by name), tiles (surviving ones by ID, recreated ones by their texts,
then in ID order), layout components (by tile), board
sections and items (in their order), user memberships and email, scheduled plan destinations.
"""

from __future__ import annotations

from typing import Any

from spec_check import spec

from restore.engine.backup.reader import Selection
from restore.engine.core.content_types import NOT_RESTORABLE, ContentType
from restore.engine.looker.client import LookerClient

CT = ContentType
SCHEMA = {
    CT.USER: "User",
    CT.GROUP: "Group",
    CT.PERMISSION_SET: "PermissionSet",
    CT.MODEL_SET: "ModelSet",
    CT.ROLE: "Role",
    CT.FOLDER: "UpdateFolder",
    CT.LOOKML_MODEL: "LookmlModel",
    CT.LOOK: "LookWithQuery",
    CT.DASHBOARD: "Dashboard",
    CT.BOARD: "Board",
    CT.SCHEDULED_PLAN: "ScheduledPlan",
}
PATH = {
    CT.USER: "users",
    CT.GROUP: "groups",
    CT.PERMISSION_SET: "permission_sets",
    CT.MODEL_SET: "model_sets",
    CT.ROLE: "roles",
    CT.FOLDER: "folders",
    CT.LOOKML_MODEL: "lookml_models",
    CT.LOOK: "looks",
    CT.DASHBOARD: "dashboards",
    CT.BOARD: "boards",
    CT.SCHEDULED_PLAN: "scheduled_plans",
}
REFS = {
    "folder_id": CT.FOLDER,
    "parent_id": CT.FOLDER,
    "home_folder_id": CT.FOLDER,
    "user_id": CT.USER,
    "look_id": CT.LOOK,
    "dashboard_id": CT.DASHBOARD,
    "permission_set_id": CT.PERMISSION_SET,
    "model_set_id": CT.MODEL_SET,
    "group_ids": CT.GROUP,
    "role_ids": CT.ROLE,
}
# Nested read views, credentials, and IDs that are new by design (queries are compared by content).
IGNORED = {
    "folder",
    "model",
    "query",
    "look",
    "user",
    "permission_set",
    "model_set",
    "certification_metadata",
    "result_maker",
    "result_maker_id",
    "query_id",
    "client_id",
    "section_order",
    "item_order",
    "scheduled_plan_destination",
    "scheduled_plan_id",
    "dashboard_layout_id",
    "dashboard_element_id",
}
CREDENTIALS = {
    n for n in spec()["components"]["schemas"]["User"]["properties"] if n.startswith("credentials_")
}


def writable(schema: str) -> list[str]:
    props = spec()["components"]["schemas"][schema]["properties"]
    return [n for n, p in props.items() if not p.get("readOnly") and n not in IGNORED | CREDENTIALS]


def _norm(v: Any) -> Any:
    return None if v == "" else v


class Comparer:
    def __init__(self, client: LookerClient, mapping: dict[tuple[int, str], str], same: bool):
        self.client = client
        self.mapping = mapping
        self.same = same
        self.diffs: list[str] = []
        self.compared = 0
        self.known: dict[int, set[str]] | None = None  # IDs the backup holds, per type

    def dangling(self, ct: ContentType, value: Any) -> bool:
        """A reference the backup cannot satisfy (an object deleted before it was taken): the API
        cannot reproduce a reference to a missing object, so it is left out of the comparison."""
        if self.known is None or value in (None, "") or isinstance(value, list):
            return False
        return str(value) not in self.known.get(int(ct), set())

    def tr(self, ct: ContentType, value: Any) -> Any:
        if value in (None, ""):
            return None
        if isinstance(value, list):
            return sorted(str(self.tr(ct, v)) for v in value)
        got = self.mapping.get((int(ct), str(value)))
        return got if got is not None else (str(value) if self.same else f"<unmapped {value}>")

    def fields(self, where: str, schema: str, want: dict, have: dict, skip=()) -> None:
        for name in writable(schema):
            if name in skip or name not in want:
                continue
            w = want.get(name)
            if name in REFS and self.dangling(REFS[name], w):
                continue  # the backup itself points at an object it does not hold
            if name in REFS:
                w = self.tr(REFS[name], w)
                h = have.get(name)
                h = (
                    sorted(str(x) for x in h)
                    if isinstance(h, list)
                    else (None if h in (None, "") else str(h))
                )
            else:
                h = have.get(name)
            self.compared += 1
            if _norm(w) != _norm(h) and not (isinstance(w, list) and w == [] and h is None):
                self.diffs.append(f"{where}.{name}: backup {w!r} != instance {h!r}")

    def query(self, where: str, want: dict | None, have: dict | None) -> None:
        if not want:
            return
        if not have:
            self.diffs.append(f"{where}.query missing")
            return
        self.fields(f"{where}.query", "Query", want, have)

    def item(self, ct: ContentType, content: dict[str, Any], sid: str) -> None:
        dest = self.tr(ct, sid)
        where = f"{ct.slug} {sid}→{dest}"
        have = self.client.get_or_none(f"/{PATH[ct]}/{dest}")
        if have is None:
            self.diffs.append(f"{where}: missing")
            return
        skip = () if self.same else ("slug",)
        self.fields(where, SCHEMA[ct], content, have, skip=skip)
        extra = getattr(self, f"_{ct.slug}", None)
        if extra:
            extra(where, content, have)

    def pair(self, want: list, have: list) -> list:
        """Tiles keep their ID when they survived (same instance); recreated ones are created in
        parallel, so they pair by their texts (title, type, ...), then in order."""
        free = list(have)
        out = []
        for w in want:
            hit = next((h for h in free if self.same and str(h["id"]) == str(w["id"])), None)
            if hit is not None:
                free.remove(hit)
            out.append([w, hit])
        for row in out:
            hit = next((h for h in free if _texts(h) == _texts(row[0])), None)
            if row[1] is None and hit is not None:
                free.remove(hit)
                row[1] = hit
        for row in out:
            if row[1] is None:
                row[1] = free.pop(0)
        return out

    def _user(self, where: str, want: dict, have: dict) -> None:
        for f in ("group_ids", "role_ids"):
            # A group/role in neither the backup nor the destination cannot be joined (reported),
            # and memberships of destination groups the backup does not know are not ours.
            wanted = [x for x in self.tr(REFS[f], want.get(f) or []) if not x.startswith("<unm")]
            known = {v for (t, _), v in self.mapping.items() if t == int(REFS[f])}
            held = [str(x) for x in have.get(f) or [] if self.same or str(x) in known]
            if sorted(wanted) != sorted(held):
                self.diffs.append(f"{where}.{f}: {want.get(f)} vs {have.get(f)}")
        email = (want.get("credentials_email") or {}).get("email") or want.get("email")
        if email and (have.get("credentials_email") or {}).get("email") != email:
            self.diffs.append(f"{where}.email differs")

    def _look(self, where: str, want: dict, have: dict) -> None:
        self.query(where, want.get("query"), have.get("query"))

    def _dashboard(self, where: str, want: dict, have: dict) -> None:
        wf = {f["name"]: f for f in want.get("dashboard_filters") or []}
        hf = {f["name"]: f for f in have.get("dashboard_filters") or []}
        if sorted(wf) != sorted(hf):
            self.diffs.append(f"{where} filters {sorted(wf)} vs {sorted(hf)}")
        for name in wf.keys() & hf.keys():
            self.fields(f"{where} filter {name}", "DashboardFilter", wf[name], hf[name])
        we, he = _by_id(want.get("dashboard_elements")), _by_id(have.get("dashboard_elements"))
        if len(we) != len(he):
            self.diffs.append(f"{where}: {len(we)} tiles in backup, {len(he)} in instance")
            return
        pairs = {}
        for w, h in self.pair(we, he):
            self.fields(f"{where} tile {w['id']}", "DashboardElement", w, h)
            self.query(f"{where} tile {w['id']}", w.get("query"), h.get("query"))
            pairs[str(w["id"])] = str(h["id"])
        wl, hl = _by_id(want.get("dashboard_layouts")), _by_id(have.get("dashboard_layouts"))
        for w, h in zip(wl, hl, strict=False):
            self.fields(f"{where} layout", "DashboardLayout", w, h, skip=("dashboard_id",))
            hc = {
                str(c["dashboard_element_id"]): c
                for c in h.get("dashboard_layout_components") or []
            }
            for c in w.get("dashboard_layout_components") or []:
                target = hc.get(pairs.get(str(c["dashboard_element_id"]), ""))
                if target is None:
                    self.diffs.append(f"{where}: no component for tile {c['dashboard_element_id']}")
                    continue
                for k in ("row", "column", "width", "height"):
                    self.compared += 1
                    if c.get(k) != target.get(k):
                        self.diffs.append(
                            f"{where} component {c['id']}.{k}: {c.get(k)} vs {target.get(k)}"
                        )

    def _board(self, where: str, want: dict, have: dict) -> None:
        ws = _ordered(want.get("board_sections"), want.get("section_order"))
        hs = _ordered(have.get("board_sections"), have.get("section_order"))
        if len(ws) != len(hs):
            self.diffs.append(f"{where}: {len(ws)} sections vs {len(hs)}")
            return
        for w, h in self.pair(ws, hs):
            self.fields(f"{where} section", "BoardSection", w, h, skip=("board_id",))
            wi = _ordered(w.get("board_items"), w.get("item_order"))
            hi = _ordered(h.get("board_items"), h.get("item_order"))
            if len(wi) != len(hi):
                self.diffs.append(f"{where}: section items {len(wi)} vs {len(hi)}")
                continue
            for a, b in self.pair(wi, hi):
                self.fields(f"{where} item", "BoardItem", a, b, skip=("board_section_id",))

    def _scheduled_plan(self, where: str, want: dict, have: dict) -> None:
        ws = want.get("scheduled_plan_destination") or []
        hs = have.get("scheduled_plan_destination") or []
        if len(ws) != len(hs):
            self.diffs.append(f"{where}: {len(ws)} destinations vs {len(hs)}")
            return
        for w, h in zip(ws, hs, strict=True):
            self.fields(f"{where} destination", "ScheduledPlanDestination", w, h)


def _texts(tile: dict) -> tuple:
    keys = ("type", "title", "title_text", "subtitle_text", "body_text", "note_text")
    return tuple(tile.get(k) for k in keys)


def _by_id(rows: list | None) -> list:
    return sorted(rows or [], key=lambda r: int(r["id"]) if str(r["id"]).isdigit() else 1 << 60)


def _ordered(rows: list | None, order: list | None) -> list:
    rank = {str(i): n for n, i in enumerate(order or [])}
    return sorted(rows or [], key=lambda r: (rank.get(str(r["id"]), 1 << 30), int(r["id"])))


def is_system_folder(content: dict) -> bool:
    keys = (
        "is_shared_root",
        "is_users_root",
        "is_personal",
        "is_embed_shared_root",
        "is_embed_users_root",
    )
    return any(content.get(k) for k in keys)


def compare_backup(
    reader, client: LookerClient, mapping, *, same: bool, selection=None
) -> Comparer:
    """Every restorable item of the backup against the instance."""
    comparer = Comparer(client, mapping, same)
    comparer.known = {}
    for item in reader.iter_items(Selection(include_deleted=True)):
        comparer.known.setdefault(int(item.content_type), set()).add(str(item.id))
    for item in reader.iter_items(selection or Selection()):
        ct = item.content_type
        content = item.content
        if ct in NOT_RESTORABLE or (ct == CT.FOLDER and is_system_folder(content)):
            continue
        if content.get("built_in"):
            continue
        sid = str(content.get("name") if ct == CT.LOOKML_MODEL else content.get("id"))
        comparer.item(ct, content, sid)
    return comparer


def mapping_of(destination) -> dict[tuple[int, str], str]:
    from restore.models import IDMapping

    rows = IDMapping.objects.filter(destination_instance=destination)
    return {(r.content_type, r.source_id): r.destination_id for r in rows}
