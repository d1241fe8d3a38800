"""`python -m looker_emulator wreck --url URL --seed S --fraction F`: a disaster, for restore tests.

Through the API (the real looker-sdk, like `extract`), on a deterministic random fraction of each
content type: delete, trash (dashboards and looks: `deleted: true`) and modify (titles, names,
descriptions, tiles and filters removed or renamed, tiles moved, dashboards and looks moved to another folder,
board items removed, user group and role memberships changed, role groups cleared, permissions and
models dropped from sets, schedules disabled). Prints one JSON document on stdout:

    {"url": …, "seed": S, "fraction": F,
     "counts": {"deleted": {"dashboard": 3, …}, "trashed": {…}, "modified": {…}, "refused": {…}},
     "deleted": {"dashboard": ["12", …]}, "trashed": {…},
     "modified": {"dashboard": {"7": ["title", "delete_element:31", "folder_id:4"]}},
     "refused": {"folder": {"9": "DELETE /api/4.0/folders/9 -> 422: …"}}}

The same instance, seed and fraction always choose the same items and changes. What the API refuses
(a permission set still used by a role, …) is reported under `refused`, never retried. System and
personal folders, the API user, the Admin role and built-in sets are never touched, so the instance
stays usable. Order: modifications, then trashing, then deletions from the leaves up (scheduled
plans … folders); a folder's deletion takes its content with it, as in Looker, and no modification
moves anything into a folder that is about to be deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
from collections.abc import Sequence
from typing import Any

from looker_sdk.sdk.api40 import methods as methods40

from looker_emulator.extract import ApiCallError, get_json, make_sdk, paginate, quote, send_json
from looker_emulator.testing import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

# Content types wrecked, in the order deletions run (leaves first) and their list endpoints.
TYPES: dict[str, str] = {
    "scheduled_plan": "/scheduled_plans",
    "board": "/boards",
    "dashboard": "/dashboards/search",
    "look": "/looks/search",
    "role": "/roles/search",
    "permission_set": "/permission_sets",
    "model_set": "/model_sets",
    "group": "/groups",
    "user": "/users",
    "folder": "/folders",
}
PATHS = {
    "scheduled_plan": "/scheduled_plans",
    "board": "/boards",
    "dashboard": "/dashboards",
    "look": "/looks",
    "role": "/roles",
    "permission_set": "/permission_sets",
    "model_set": "/model_sets",
    "group": "/groups",
    "user": "/users",
    "folder": "/folders",
}
PAGINATED = {"dashboard", "look", "role", "group", "user"}
# Relative weights of the actions per type.
ACTIONS: dict[str, dict[str, int]] = {
    "dashboard": {"delete": 1, "trash": 1, "modify": 1},
    "look": {"delete": 1, "trash": 1, "modify": 1},
    "folder": {"delete": 1, "modify": 2},
    "user": {"delete": 1, "modify": 2},
    "permission_set": {"modify": 1},
    "model_set": {"modify": 1},
}
DEFAULT_ACTIONS = {"delete": 1, "modify": 1}
SYSTEM_FOLDER_FLAGS = (
    "is_shared_root",
    "is_users_root",
    "is_personal",
    "is_personal_descendant",
    "is_embed",
    "is_embed_shared_root",
    "is_embed_users_root",
)


class Wrecker:
    """Chooses and applies the damage; `report` is the JSON summary."""

    def __init__(self, sdk: methods40.Looker40SDK, seed: int, fraction: float) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction must be between 0 and 1, not {fraction}")
        self.sdk = sdk
        self.rng = random.Random(seed)
        self.fraction = fraction
        self.inventory: dict[str, list[dict[str, Any]]] = {}
        self.plan: dict[str, dict[str, list[str]]] = {}
        self.report: dict[str, Any] = {
            "seed": seed,
            "fraction": fraction,
            "counts": {},
            "deleted": {},
            "trashed": {},
            "modified": {},
            "refused": {},
        }

    # -- choosing ---------------------------------------------------------------------------------
    def take_inventory(self) -> None:
        me = get_json(self.sdk, "/user", fields="id") or {}
        for kind, path in TYPES.items():
            if kind in PAGINATED:
                rows = list(paginate(self.sdk, path))
            elif kind == "scheduled_plan":
                rows = get_json(self.sdk, path, all_users="true") or []
            else:
                rows = get_json(self.sdk, path) or []
            rows = [r for r in rows if self._eligible(kind, r, str(me.get("id")))]
            self.inventory[kind] = sorted(rows, key=lambda r: _id_key(str(r["id"])))

    @staticmethod
    def _eligible(kind: str, row: dict[str, Any], me: str) -> bool:
        if kind == "folder":
            return not any(row.get(flag) for flag in SYSTEM_FOLDER_FLAGS)
        if kind == "user":
            return str(row["id"]) != me
        if kind == "role":
            return not row.get("built_in") and row.get("name") != "Admin"
        if kind in ("permission_set", "model_set"):
            return not row.get("built_in") and not row.get("all_access")
        if kind == "group":
            return row.get("name") != "All Users" and not row.get("externally_managed")
        if kind in ("dashboard", "look"):
            return not row.get("deleted")
        return True

    def choose(self) -> None:
        for kind, rows in self.inventory.items():
            n = len(rows)
            k = min(n, max(1, round(self.fraction * n))) if self.fraction > 0 and n else 0
            chosen = self.rng.sample(rows, k)
            weights = ACTIONS.get(kind, DEFAULT_ACTIONS)
            actions = list(weights)
            plan: dict[str, list[str]] = {a: [] for a in actions}
            for row in sorted(chosen, key=lambda r: _id_key(str(r["id"]))):
                action = self.rng.choices(actions, weights=[weights[a] for a in actions])[0]
                plan[action].append(str(row["id"]))
            self.plan[kind] = plan

    # -- applying ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        self.take_inventory()
        self.choose()
        doomed = set(self.plan.get("folder", {}).get("delete", []))
        self.move_targets = [
            str(f["id"]) for f in self.inventory["folder"] if str(f["id"]) not in doomed
        ] or ["1"]
        for kind in reversed(list(TYPES)):
            for rid in self.plan[kind].get("modify", []):
                self._attempt("modified", kind, rid, lambda k=kind, i=rid: self.modify(k, i))
        for kind in ("dashboard", "look"):
            for rid in self.plan[kind].get("trash", []):
                self._attempt("trashed", kind, rid, lambda k=kind, i=rid: self.trash(k, i))
        for kind in TYPES:
            for rid in self.plan[kind].get("delete", []):
                self._attempt("deleted", kind, rid, lambda k=kind, i=rid: self.delete(k, i))
        counts = self.report["counts"]
        for action in ("deleted", "trashed", "modified", "refused"):
            counts[action] = {k: len(v) for k, v in self.report[action].items()}
        return self.report

    def _attempt(self, action: str, kind: str, rid: str, fn: Any) -> None:
        try:
            changes = fn()
        except ApiCallError as exc:
            if exc.status == 404 and action == "deleted":
                return  # already gone with its folder: the cascade did it
            self.report["refused"].setdefault(kind, {})[rid] = str(exc)
            return
        if action == "modified":
            self.report[action].setdefault(kind, {})[rid] = changes
        else:
            self.report[action].setdefault(kind, []).append(rid)

    def _patch(self, kind: str, rid: str, body: dict[str, Any]) -> Any:
        return send_json(self.sdk, "PATCH", f"{PATHS[kind]}/{quote(rid)}", body)

    def delete(self, kind: str, rid: str) -> None:
        send_json(self.sdk, "DELETE", f"{PATHS[kind]}/{quote(rid)}")

    def trash(self, kind: str, rid: str) -> None:
        self._patch(kind, rid, {"deleted": True})

    def modify(self, kind: str, rid: str) -> list[str]:
        return getattr(self, f"_modify_{kind}")(rid)

    def _renamed(self, text: Any) -> str:
        return f"{text or ''} (wrecked {self.rng.randrange(10_000)})".strip()

    def _maybe_move(self, kind: str, rid: str, current: Any) -> list[str]:
        targets = [f for f in self.move_targets if f != str(current)]
        if not targets or self.rng.random() < 0.5:
            return []
        target = self.rng.choice(targets)
        self._patch(kind, rid, {"folder_id": target})
        return [f"folder_id:{target}"]

    def _modify_dashboard(self, rid: str) -> list[str]:
        dash = get_json(self.sdk, f"/dashboards/{quote(rid)}")
        changes = ["title", "description"]
        self._patch(
            "dashboard",
            rid,
            {"title": self._renamed(dash.get("title")), "description": "Edited by mistake"},
        )
        elements = list(dash.get("dashboard_elements") or [])
        self.rng.shuffle(elements)
        if elements:
            gone = elements.pop()
            send_json(self.sdk, "DELETE", f"/dashboard_elements/{quote(gone['id'])}")
            changes.append(f"delete_element:{gone['id']}")
        if elements:
            tile = elements.pop()
            send_json(
                self.sdk,
                "PATCH",
                f"/dashboard_elements/{quote(tile['id'])}",
                {"title": self._renamed(tile.get("title"))},
            )
            changes.append(f"element_title:{tile['id']}")
        removed = {c.split(":", 1)[1] for c in changes if c.startswith("delete_element:")}
        components = [
            c
            for lay in dash.get("dashboard_layouts") or []
            for c in lay.get("dashboard_layout_components") or []
            if str(c.get("dashboard_element_id")) not in removed
        ]
        if components and self.rng.random() < 0.5:
            comp = self.rng.choice(components)
            moved = {"row": (comp.get("row") or 0) + 6, "column": 0}
            send_json(self.sdk, "PATCH", f"/dashboard_layout_components/{quote(comp['id'])}", moved)
            changes.append(f"move_component:{comp['id']}")
        filters = dash.get("dashboard_filters") or []
        if filters and self.rng.random() < 0.5:
            gone = self.rng.choice(filters)
            send_json(self.sdk, "DELETE", f"/dashboard_filters/{quote(gone['id'])}")
            changes.append(f"delete_filter:{gone['id']}")
        return changes + self._maybe_move("dashboard", rid, dash.get("folder_id"))

    def _modify_look(self, rid: str) -> list[str]:
        look = get_json(self.sdk, f"/looks/{quote(rid)}")
        self._patch(
            "look",
            rid,
            {"title": self._renamed(look.get("title")), "description": "Edited by mistake"},
        )
        return ["title", "description", *self._maybe_move("look", rid, look.get("folder_id"))]

    def _modify_folder(self, rid: str) -> list[str]:
        folder = get_json(self.sdk, f"/folders/{quote(rid)}", fields="id,name")
        self._patch("folder", rid, {"name": self._renamed(folder.get("name"))})
        return ["name"]

    def _modify_user(self, rid: str) -> list[str]:
        user = get_json(self.sdk, f"/users/{quote(rid)}")
        self._patch("user", rid, {"first_name": self._renamed(user.get("first_name"))})
        changes = ["first_name"]
        groups = [str(g) for g in user.get("group_ids") or []]
        if groups:
            gid = self.rng.choice(groups)
            send_json(self.sdk, "DELETE", f"/groups/{quote(gid)}/users/{quote(rid)}")
            changes.append(f"remove_group:{gid}")
        else:
            candidates = [str(g["id"]) for g in self.inventory["group"]]
            if candidates:
                gid = self.rng.choice(candidates)
                send_json(self.sdk, "POST", f"/groups/{quote(gid)}/users", {"user_id": rid})
                changes.append(f"add_group:{gid}")
        roles = [str(r) for r in user.get("role_ids") or []]
        if roles:
            send_json(self.sdk, "PUT", f"/users/{quote(rid)}/roles", roles[:-1])
            changes.append(f"remove_role:{roles[-1]}")
        return changes

    def _modify_group(self, rid: str) -> list[str]:
        group = get_json(self.sdk, f"/groups/{quote(rid)}")
        self._patch("group", rid, {"name": self._renamed(group.get("name"))})
        return ["name"]

    def _modify_role(self, rid: str) -> list[str]:
        role = get_json(self.sdk, f"/roles/{quote(rid)}")
        self._patch("role", rid, {"name": self._renamed(role.get("name"))})
        send_json(self.sdk, "PUT", f"/roles/{quote(rid)}/groups", [])
        return ["name", "clear_groups"]

    def _modify_permission_set(self, rid: str) -> list[str]:
        pset = get_json(self.sdk, f"/permission_sets/{quote(rid)}")
        perms = list(pset.get("permissions") or [])
        body: dict[str, Any] = {"name": self._renamed(pset.get("name"))}
        changes = ["name"]
        if len(perms) > 1:
            dropped = perms.pop(self.rng.randrange(len(perms)))
            body["permissions"] = perms
            changes.append(f"drop_permission:{dropped}")
        self._patch("permission_set", rid, body)
        return changes

    def _modify_model_set(self, rid: str) -> list[str]:
        mset = get_json(self.sdk, f"/model_sets/{quote(rid)}")
        models = list(mset.get("models") or [])
        body: dict[str, Any] = {"name": self._renamed(mset.get("name"))}
        changes = ["name"]
        if len(models) > 1:
            dropped = models.pop(self.rng.randrange(len(models)))
            body["models"] = models
            changes.append(f"drop_model:{dropped}")
        self._patch("model_set", rid, body)
        return changes

    def _modify_board(self, rid: str) -> list[str]:
        board = get_json(self.sdk, f"/boards/{quote(rid)}")
        self._patch(
            "board",
            rid,
            {"title": self._renamed(board.get("title")), "description": "Edited by mistake"},
        )
        changes = ["title", "description"]
        items = [i for s in board.get("board_sections") or [] for i in s.get("board_items") or []]
        if items:
            gone = self.rng.choice(items)
            send_json(self.sdk, "DELETE", f"/board_items/{quote(gone['id'])}")
            changes.append(f"delete_board_item:{gone['id']}")
        return changes

    def _modify_scheduled_plan(self, rid: str) -> list[str]:
        plan = get_json(self.sdk, f"/scheduled_plans/{quote(rid)}")
        self._patch(
            "scheduled_plan",
            rid,
            {"name": self._renamed(plan.get("name")), "enabled": False, "crontab": "0 3 * * *"},
        )
        return ["name", "enabled", "crontab"]


def _id_key(rid: str) -> tuple[int, Any]:
    return (0, int(rid)) if rid.isdigit() else (1, rid)


def wreck(
    url: str,
    *,
    seed: int,
    fraction: float,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
) -> dict[str, Any]:
    """Damage the instance at url; return the summary of what was done."""
    sdk = make_sdk(url, client_id, client_secret)
    try:
        report = Wrecker(sdk, seed, fraction).run()
    finally:
        with contextlib.suppress(Exception):  # the damage report matters more than a logout
            sdk.auth.logout()
    return {"url": url, **report}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m looker_emulator wreck",
        description="Delete, trash and modify a random fraction of a Looker instance's content.",
    )
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:19999")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--fraction", type=float, required=True, help="0..1 of each content type")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = wreck(
            args.url,
            seed=args.seed,
            fraction=args.fraction,
            client_id=args.client_id,
            client_secret=args.client_secret,
        )
    except (ApiCallError, ValueError) as exc:
        print(f"wreck failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
