"""A synthetic but realistic Looker instance, as a state document (`generate --items N --seed S`).

Every instance, even `--items 0` (the empty target of a migration), has Looker's system folders, the API
user the emulator's credentials belong to, the built-in Admin role, permission set and model set, the
"All Users" group, and the same LookML models and explores (LookML is deployed from git, never through
the API). `--items N` adds about N content items of every restorable type, with realistic references
and mixed sizes. Deterministic: the same N and seed give the same document.
"""

from __future__ import annotations

import random
import time
from typing import Any

from looker_emulator.state import STATE_FORMAT, STATE_VERSION, TABLES

BASE_TS = 1_672_531_200.0  # 2023-01-01T00:00:00Z, so generated timestamps don't depend on the clock
SPAN_S = 3 * 365 * 86400

FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Frances",
    "John",
    "Radia",
    "Edsger",
    "Hedy",
    "Tim",
    "Donald",
    "Katherine",
    "Guido",
    "Anita",
    "Bjarne",
    "Sophie",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Allen",
    "McCarthy",
    "Perlman",
    "Dijkstra",
    "Lamarr",
    "Berners-Lee",
    "Knuth",
    "Johnson",
    "Rossum",
    "Borg",
    "Stroustrup",
    "Wilson",
]
AREAS = [
    "Sales",
    "Marketing",
    "Finance",
    "Operations",
    "Product",
    "Engineering",
    "Support",
    "People",
    "Legal",
    "Growth",
    "Data",
    "Executive",
]
SUBJECTS = [
    "Revenue",
    "Pipeline",
    "Churn",
    "Retention",
    "Inventory",
    "Orders",
    "Signups",
    "Funnel",
    "Margin",
    "Forecast",
    "Quota",
    "Campaigns",
    "Tickets",
    "Latency",
    "Headcount",
    "Spend",
    "Cohorts",
    "NPS",
]
WORDS = [
    "weekly",
    "monthly",
    "regional",
    "global",
    "daily",
    "pilot",
    "core",
    "summary",
    "detail",
    "overview",
    "trend",
    "by-region",
    "top-10",
    "legacy",
    "new",
]
PERMISSIONS = [
    "access_data",
    "see_lookml_dashboards",
    "see_looks",
    "see_user_dashboards",
    "explore",
    "save_content",
    "create_public_looks",
    "download_with_limit",
    "schedule_look_emails",
    "see_sql",
    "manage_spaces",
    "see_drill_overlay",
]

# The LookML every instance has: model -> (label, {explore: (label, dimensions, measures)}).
LOOKML: dict[str, tuple[str, dict[str, tuple[str, list[str], list[str]]]]] = {
    "thelook": (
        "The Look",
        {
            "order_items": (
                "Order Items",
                [
                    "order_items.id",
                    "order_items.created_date",
                    "order_items.status",
                    "products.brand",
                    "products.category",
                    "users.state",
                ],
                [
                    "order_items.count",
                    "order_items.total_sale_price",
                    "order_items.average_sale_price",
                ],
            ),
            "users": (
                "Users",
                ["users.id", "users.email", "users.state", "users.age_tier", "users.created_month"],
                ["users.count", "users.average_age"],
            ),
            "products": (
                "Products",
                ["products.brand", "products.category", "products.department"],
                ["products.count"],
            ),
            "inventory_items": (
                "Inventory Items",
                ["inventory_items.id", "inventory_items.created_week", "products.brand"],
                ["inventory_items.count", "inventory_items.total_cost"],
            ),
        },
    ),
    "ecommerce": (
        "E-commerce",
        {
            "orders": (
                "Orders",
                ["orders.id", "orders.created_date", "orders.channel", "customers.region"],
                ["orders.count", "orders.revenue"],
            ),
            "customers": (
                "Customers",
                ["customers.id", "customers.region", "customers.segment"],
                ["customers.count", "customers.lifetime_value"],
            ),
            "sessions": (
                "Web Sessions",
                ["sessions.start_date", "sessions.source", "sessions.device"],
                ["sessions.count", "sessions.bounce_rate"],
            ),
        },
    ),
    "finance": (
        "Finance",
        {
            "ledger": (
                "General Ledger",
                ["ledger.account", "ledger.period", "ledger.cost_center"],
                ["ledger.total_amount", "ledger.count"],
            ),
            "invoices": (
                "Invoices",
                ["invoices.id", "invoices.due_date", "invoices.status", "invoices.customer"],
                ["invoices.total", "invoices.count"],
            ),
        },
    ),
    "marketing": (
        "Marketing",
        {
            "campaigns": (
                "Campaigns",
                ["campaigns.name", "campaigns.channel", "campaigns.start_date"],
                ["campaigns.spend", "campaigns.count"],
            ),
            "leads": (
                "Leads",
                ["leads.source", "leads.created_date", "leads.stage"],
                ["leads.count", "leads.conversion_rate"],
            ),
        },
    ),
    "system__activity": (
        "System Activity",
        {
            "history": (
                "History",
                ["history.created_date", "history.source", "user.name"],
                ["history.query_run_count", "history.average_runtime"],
            ),
            "dashboard": (
                "Dashboard",
                ["dashboard.id", "dashboard.title", "dashboard.created_date"],
                ["dashboard.count"],
            ),
            "look": ("Look", ["look.id", "look.title"], ["look.count"]),
        },
    ),
}
VIS = [
    "looker_grid",
    "looker_column",
    "looker_bar",
    "looker_line",
    "looker_area",
    "looker_pie",
    "single_value",
    "looker_scatter",
    "table",
]


def _ts(rng: random.Random, after: float = BASE_TS) -> float:
    return after + rng.random() * max(1.0, BASE_TS + SPAN_S - after)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}+00:00"


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tables: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
        self.next: dict[str, int] = {}
        self.role_groups: dict[str, list[str]] = {}

    def new_id(self, table: str) -> str:
        n = self.next.get(table, 1)
        self.next[table] = n + 1
        return str(n)

    def add(self, table: str, record: dict[str, Any]) -> dict[str, Any]:
        self.tables[table].append(record)
        return record

    def stamps(self) -> dict[str, str]:
        created = _ts(self.rng)
        updated = _ts(self.rng, created)
        return {"created_at": _iso(created), "updated_at": _iso(updated)}

    def text(self, lo: int, hi: int) -> str:
        n = self.rng.randint(lo, hi)
        return " ".join(self.rng.choice(WORDS + SUBJECTS).lower() for _ in range(n)).capitalize()


def _base(b: _Builder) -> dict[str, Any]:
    """The part every instance has. Returns handles the content generator builds on."""
    stamp = {"created_at": _iso(BASE_TS), "updated_at": _iso(BASE_TS)}
    folders = [
        {"id": "1", "name": "Shared", "parent_id": None, "is_shared_root": True},
        {"id": "2", "name": "Users", "parent_id": None, "is_users_root": True},
        {
            "id": "3",
            "name": "Embed Groups",
            "parent_id": None,
            "is_embed_shared_root": True,
            "is_embed": True,
        },
        {
            "id": "4",
            "name": "Embed Users",
            "parent_id": None,
            "is_embed_users_root": True,
            "is_embed": True,
        },
    ]
    for f in folders:
        b.add("folders", {**f, "creator_id": None, "content_metadata_id": f["id"], **stamp})
    b.next["folders"] = 5
    b.add(
        "permission_sets",
        {
            "id": "1",
            "name": "Admin",
            "permissions": ["administer"] + PERMISSIONS,
            "all_access": True,
            "built_in": True,
            **stamp,
        },
    )
    b.add(
        "model_sets",
        {
            "id": "1",
            "name": "All",
            "models": sorted(LOOKML),
            "all_access": True,
            "built_in": True,
            **stamp,
        },
    )
    b.next["permission_sets"] = b.next["model_sets"] = 2
    b.add(
        "roles",
        {"id": "2", "name": "Admin", "permission_set_id": "1", "model_set_id": "1", **stamp},
    )
    b.next["roles"] = 3
    b.add(
        "groups",
        {
            "id": "1",
            "name": "All Users",
            "include_by_default": True,
            "can_add_to_content_metadata": True,
            "externally_managed": False,
            **stamp,
        },
    )
    b.next["groups"] = 2
    for model, (label, explores) in LOOKML.items():
        b.add(
            "lookml_models",
            {
                "name": model,
                "label": label,
                "project_name": model,
                "allowed_db_connection_names": [f"{model}_db"],
                "unlimited_db_connections": False,
                **stamp,
            },
        )
        for name, (elabel, dims, measures) in explores.items():
            b.add(
                "explores",
                {
                    "id": f"{model}::{name}",
                    "name": name,
                    "model_name": model,
                    "label": elabel,
                    "title": elabel,
                    "description": f"{elabel} in {label}",
                    "group_label": label,
                    "hidden": False,
                    "project_name": model,
                    "connection_name": f"{model}_db",
                    "dialect_name": "bigquery_standard_sql",
                    "view_name": name,
                    "sql_table_name": f"`{model}.{name}`",
                    "fields": {
                        "dimensions": [
                            {
                                "name": d,
                                "label": d.split(".")[1].replace("_", " ").title(),
                                "type": "string",
                                "category": "dimension",
                            }
                            for d in dims
                        ],
                        "measures": [
                            {
                                "name": m,
                                "label": m.split(".")[1].replace("_", " ").title(),
                                "type": "number",
                                "category": "measure",
                            }
                            for m in measures
                        ],
                        "filters": [],
                        "parameters": [],
                    },
                },
            )
    _user(b, "1", "Api", "Admin", "api-admin@example.com", ["1"], ["2"], stamp)
    return {}


def _user(
    b: _Builder,
    uid: str,
    first: str,
    last: str,
    email: str,
    groups: list[str],
    roles: list[str],
    stamp: dict[str, str],
) -> dict[str, Any]:
    fid = b.new_id("folders")
    b.add(
        "folders",
        {
            "id": fid,
            "name": f"{first} {last}",
            "parent_id": "2",
            "is_personal": True,
            "creator_id": uid,
            "content_metadata_id": fid,
            **stamp,
        },
    )
    return b.add(
        "users",
        {
            "id": uid,
            "first_name": first,
            "last_name": last,
            "email": email,
            "credentials_email": {
                "email": email,
                "forced_password_reset_at_next_login": False,
                "created_at": stamp["created_at"],
            },
            "group_ids": groups,
            "role_ids": roles,
            "personal_folder_id": fid,
            "home_folder_id": "1",
            "is_disabled": False,
            "locale": "en",
            "models_dir_validated": None,
            **stamp,
        },
    )


def generate(items: int, seed: int = 0) -> dict[str, Any]:
    """A state document with about `items` content items (0 = the empty migration target)."""
    b = _Builder(seed)
    _base(b)
    b.next["users"] = 2
    if items > 0:
        _content(b, items)
    # Rows in the order an export lists them (ids numerically, names alphabetically).
    b.tables["lookml_models"].sort(key=lambda r: r["name"])
    b.tables["explores"].sort(key=lambda r: r["id"])
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "meta": {"generator": "looker_emulator.generate", "items": items, "seed": seed},
        "api_user_id": "1",
        "next_ids": b.next,
        "role_groups": b.role_groups,
        "group_groups": {},
        "tables": b.tables,
    }


def _share(n: int, frac: float, lo: int = 1) -> int:
    return max(lo, round(n * frac))


def _content(b: _Builder, n: int) -> None:
    rng = b.rng
    counts = {
        "users": _share(n, 0.06),
        "groups": _share(n, 0.01),
        "permission_sets": min(40, _share(n, 0.004)),
        "model_sets": min(40, _share(n, 0.004)),
        "roles": min(80, _share(n, 0.008)),
        "folders": _share(n, 0.08),
        "looks": _share(n, 0.30),
        "boards": _share(n, 0.02),
        "scheduled_plans": _share(n, 0.06),
    }
    counts["dashboards"] = max(1, n - sum(counts.values()))

    # Permission sets, model sets, roles, groups.
    ps_ids = []
    for i in range(counts["permission_sets"]):
        pid = b.new_id("permission_sets")
        perms = sorted(rng.sample(PERMISSIONS, rng.randint(2, len(PERMISSIONS))))
        b.add(
            "permission_sets",
            {
                "id": pid,
                "name": f"{rng.choice(AREAS)} access {i + 1}",
                "permissions": perms,
                "all_access": False,
                "built_in": False,
                **b.stamps(),
            },
        )
        ps_ids.append(pid)
    ms_ids = []
    for i in range(counts["model_sets"]):
        mid = b.new_id("model_sets")
        models = sorted(rng.sample(sorted(LOOKML), rng.randint(1, len(LOOKML))))
        b.add(
            "model_sets",
            {
                "id": mid,
                "name": f"{rng.choice(AREAS)} models {i + 1}",
                "models": models,
                "all_access": False,
                "built_in": False,
                **b.stamps(),
            },
        )
        ms_ids.append(mid)
    group_ids = []
    for i in range(counts["groups"]):
        gid = b.new_id("groups")
        b.add(
            "groups",
            {
                "id": gid,
                "name": f"{rng.choice(AREAS)} team {i + 1}",
                "include_by_default": False,
                "can_add_to_content_metadata": True,
                "externally_managed": False,
                **b.stamps(),
            },
        )
        group_ids.append(gid)
    role_ids = []
    for i in range(counts["roles"]):
        rid = b.new_id("roles")
        b.add(
            "roles",
            {
                "id": rid,
                "name": f"{rng.choice(AREAS)} {rng.choice(['Viewer', 'Analyst', 'Developer', 'Editor'])} {i + 1}",
                "permission_set_id": rng.choice(ps_ids),
                "model_set_id": rng.choice(ms_ids),
                **b.stamps(),
            },
        )
        role_ids.append(rid)
        if group_ids:
            b.role_groups[rid] = sorted(
                set(rng.sample(group_ids, min(len(group_ids), rng.randint(0, 3)))), key=int
            )

    # Users, each with a personal folder.
    user_ids = ["1"]
    for i in range(counts["users"]):
        uid = b.new_id("users")
        first, last = rng.choice(FIRST), rng.choice(LAST)
        groups = ["1"] + sorted(
            set(rng.sample(group_ids, min(len(group_ids), rng.randint(0, 3)))), key=int
        )
        roles = sorted(set(rng.sample(role_ids, min(len(role_ids), rng.randint(1, 2)))), key=int)
        user = _user(
            b,
            uid,
            first,
            last,
            f"{first}.{last}.{i + 2}@example.com".lower(),
            groups,
            roles,
            b.stamps(),
        )
        user["is_disabled"] = rng.random() < 0.05
        user_ids.append(uid)
    personal = {u["id"]: u["personal_folder_id"] for u in b.tables["users"]}

    # Shared folder tree, several levels deep (shallow levels more likely).
    shared: list[tuple[str, int]] = [("1", 0)]
    used_names: set[tuple[str, str]] = set()
    for i in range(counts["folders"]):
        parent, depth = (
            rng.choice(shared[: max(1, len(shared))])
            if rng.random() < 0.5
            else shared[rng.randrange(len(shared))]
        )
        if depth >= 6:
            parent, depth = "1", 0
        name = f"{rng.choice(AREAS) if depth == 0 else rng.choice(SUBJECTS)} {i + 1}"
        if (parent, name) in used_names:
            name += " (2)"
        used_names.add((parent, name))
        fid = b.new_id("folders")
        b.add(
            "folders",
            {
                "id": fid,
                "name": name,
                "parent_id": parent,
                "creator_id": rng.choice(user_ids),
                "content_metadata_id": fid,
                **b.stamps(),
            },
        )
        shared.append((fid, depth + 1))
    content_folders = [f for f, _ in shared]

    def pick_folder(owner: str) -> str:
        return personal[owner] if rng.random() < 0.15 else rng.choice(content_folders)

    def new_query() -> dict[str, Any]:
        model = rng.choice(sorted(LOOKML))
        explores = LOOKML[model][1]
        view = rng.choice(sorted(explores))
        _label, dims, measures = explores[view]
        fields = rng.sample(dims, rng.randint(1, min(3, len(dims)))) + rng.sample(
            measures, rng.randint(1, len(measures))
        )
        qid = b.new_id("queries")
        vis: dict[str, Any] = {"type": rng.choice(VIS)}
        if rng.random() < 0.15:  # some tiles carry large visualisation configs
            vis["series_colors"] = {f: f"#{rng.randrange(16**6):06x}" for f in fields}
            vis["custom_settings"] = [b.text(5, 30) for _ in range(rng.randint(1, 12))]
        q = {
            "id": qid,
            "model": model,
            "view": view,
            "fields": fields,
            "filters": {dims[0]: rng.choice(["-NULL", "last 30 days", "A%", "1,2,3"])}
            if rng.random() < 0.5
            else None,
            "sorts": [f"{fields[-1]} desc"],
            "limit": str(rng.choice([10, 50, 100, 500, 5000])),
            "vis_config": vis,
            "query_timezone": rng.choice([None, "UTC", "America/New_York", "Europe/Paris"]),
            "slug": f"{int(qid):x}{rng.randrange(36**5):05x}"[-7:].rjust(7, "q"),
            "client_id": f"c{qid}x{rng.randrange(10**9)}",
        }
        return b.add("queries", q)

    # Looks.
    look_ids = []
    for i in range(counts["looks"]):
        owner = rng.choice(user_ids)
        q = new_query()
        lid = b.new_id("looks")
        deleted = rng.random() < 0.03
        rec = {
            "id": lid,
            "title": f"{rng.choice(SUBJECTS)} {rng.choice(WORDS)} {i + 1}",
            "description": b.text(0, 60) if rng.random() < 0.6 else "",
            "query_id": q["id"],
            "folder_id": pick_folder(owner),
            "user_id": owner,
            "is_run_on_load": rng.random() < 0.3,
            "public": rng.random() < 0.05,
            "deleted": deleted,
            "view_count": rng.randrange(500),
            "favorite_count": rng.randrange(20),
            **b.stamps(),
        }
        if deleted:
            rec["deleted_at"] = rec["updated_at"]
            rec["deleter_id"] = owner
        b.add("looks", rec)
        if not deleted:
            look_ids.append(lid)

    # Dashboards with 1-30 tiles (query, look and text tiles), filters and a layout.
    dash_ids = []
    for i in range(counts["dashboards"]):
        owner = rng.choice(user_ids)
        did = b.new_id("dashboards")
        deleted = rng.random() < 0.03
        rec = {
            "id": did,
            "title": f"{rng.choice(AREAS)} {rng.choice(SUBJECTS)} {rng.choice(WORDS)} {i + 1}",
            "description": b.text(0, 80) if rng.random() < 0.5 else "",
            "folder_id": pick_folder(owner),
            "user_id": owner,
            "slug": f"{rng.randrange(36**10):x}",
            "preferred_viewer": "dashboards-next",
            "hidden": False,
            "deleted": deleted,
            "query_timezone": rng.choice(["", "user_timezone", "UTC"]),
            "refresh_interval": rng.choice([None, None, "1 hour", "15 minutes"]),
            "load_configuration": "wait",
            "crossfilter_enabled": rng.random() < 0.3,
            "show_title": True,
            "show_filters_bar": True,
            "background_color": rng.choice([None, None, "#ffffff", "#f6f8fa"]),
            "view_count": rng.randrange(2000),
            "favorite_count": rng.randrange(50),
            **b.stamps(),
        }
        if deleted:
            rec["deleted_at"] = rec["updated_at"]
            rec["deleter_id"] = owner
        b.add("dashboards", rec)
        if not deleted:
            dash_ids.append(did)
        layout_id = b.new_id("dashboard_layouts")
        b.add(
            "dashboard_layouts",
            {
                "id": layout_id,
                "dashboard_id": did,
                "type": "newspaper",
                "active": True,
                "column_width": None,
                "width": None,
                "created_at": rec["created_at"],
                "updated_at": rec["updated_at"],
            },
        )
        tiles = max(1, min(30, int(rng.lognormvariate(1.6, 0.7))))
        row = col = 0
        for t in range(tiles):
            eid = b.new_id("dashboard_elements")
            kind = rng.random()
            el: dict[str, Any] = {
                "id": eid,
                "dashboard_id": did,
                "title_hidden": False,
                "created_at": rec["created_at"],
                "updated_at": rec["updated_at"],
            }
            if kind < 0.2 or (kind < 0.45 and not look_ids):
                el.update(
                    type="text",
                    title_text=f"{rng.choice(SUBJECTS)} notes",
                    body_text=b.text(3, 120) if rng.random() < 0.9 else b.text(200, 1500),
                    subtitle_text=b.text(0, 8) or None,
                )
                height = 2
            elif kind < 0.45:
                el.update(type="vis", look_id=rng.choice(look_ids), title=f"Look tile {t + 1}")
                height = 6
            else:
                el.update(
                    type="vis",
                    query_id=new_query()["id"],
                    title=f"{rng.choice(SUBJECTS)} tile {t + 1}",
                    note_text=b.text(0, 12) or None,
                )
                height = 6
            b.add("dashboard_elements", el)
            width = rng.choice([6, 8, 12, 24])
            if col + width > 24:
                col, row = 0, row + height
            b.add(
                "dashboard_layout_components",
                {
                    "id": b.new_id("dashboard_layout_components"),
                    "dashboard_layout_id": layout_id,
                    "dashboard_element_id": eid,
                    "row": row,
                    "column": col,
                    "width": width,
                    "height": height,
                    "deleted": False,
                },
            )
            col += width
        for f in range(rng.choice([0, 0, 1, 1, 2, 3, 4])):
            model = rng.choice(sorted(LOOKML))
            view = rng.choice(sorted(LOOKML[model][1]))
            dim = LOOKML[model][1][view][1][0]
            b.add(
                "dashboard_filters",
                {
                    "id": b.new_id("dashboard_filters"),
                    "dashboard_id": did,
                    "name": f"Filter {f + 1}",
                    "title": dim.split(".")[1].replace("_", " ").title(),
                    "type": "field_filter",
                    "default_value": rng.choice(["", "last 7 days", "A%"]),
                    "model": model,
                    "explore": view,
                    "dimension": dim,
                    "row": f,
                    "listens_to_filters": [],
                    "allow_multiple_values": True,
                    "required": False,
                    "ui_config": {"type": "advanced", "display": "popover"},
                },
            )

    # Boards with sections and items.
    for i in range(counts["boards"]):
        bid = b.new_id("boards")
        board = b.add(
            "boards",
            {
                "id": bid,
                "title": f"{rng.choice(AREAS)} board {i + 1}",
                "description": b.text(0, 20),
                "user_id": rng.choice(user_ids),
                "section_order": [],
                **b.stamps(),
            },
        )
        for s in range(rng.randint(1, 4)):
            sid = b.new_id("board_sections")
            section = b.add(
                "board_sections",
                {
                    "id": sid,
                    "board_id": bid,
                    "title": f"Section {s + 1}",
                    "description": "",
                    "item_order": [],
                    **b.stamps(),
                },
            )
            board["section_order"].append(sid)
            for o in range(rng.randint(1, 6)):
                iid = b.new_id("board_items")
                item: dict[str, Any] = {"id": iid, "board_section_id": sid, "order": o + 1}
                if dash_ids and (rng.random() < 0.6 or not look_ids):
                    item["dashboard_id"] = rng.choice(dash_ids)
                elif look_ids:
                    item["look_id"] = rng.choice(look_ids)
                b.add("board_items", item)
                section["item_order"].append(iid)

    # Scheduled plans on dashboards and looks.
    for i in range(counts["scheduled_plans"]):
        pid = b.new_id("scheduled_plans")
        plan: dict[str, Any] = {
            "id": pid,
            "name": f"{rng.choice(['Weekly', 'Daily', 'Monthly'])} {rng.choice(SUBJECTS)} {i + 1}",
            "user_id": rng.choice(user_ids),
            "enabled": rng.random() < 0.9,
            "run_as_recipient": False,
            "crontab": rng.choice(["0 9 * * 1", "0 6 * * *", "30 7 1 * *"]),
            "timezone": rng.choice(["UTC", "America/New_York", "Europe/London"]),
            "require_results": False,
            "require_no_results": False,
            "require_change": False,
            "send_all_results": False,
            "include_links": True,
            **b.stamps(),
        }
        if dash_ids and (rng.random() < 0.6 or not look_ids):
            plan["dashboard_id"] = rng.choice(dash_ids)
        elif look_ids:
            plan["look_id"] = rng.choice(look_ids)
        plan["scheduled_plan_destination"] = [
            {
                "id": b.new_id("scheduled_plan_destinations"),
                "scheduled_plan_id": pid,
                "type": "email",
                "format": rng.choice(["wysiwyg_pdf", "csv", "inline_table"]),
                "address": f"team{rng.randrange(100)}@example.com",
                "apply_formatting": True,
                "apply_vis": True,
                "message": b.text(0, 10),
            }
            for _ in range(rng.randint(1, 3))
        ]
        b.add("scheduled_plans", plan)
