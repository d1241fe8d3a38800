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
from collections.abc import Callable, Iterator
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
    """The document being built: its tables and id counters, and the ids later content picks from."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tables: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
        self.next: dict[str, int] = {}
        self.role_groups: dict[str, list[str]] = {}
        # users, groups, roles, permission/model sets, shared folders, and live looks and dashboards
        self.ids: dict[str, list[str]] = {}
        self.personal: dict[str, str] = {}  # user id -> personal folder id

    def new_id(self, table: str) -> str:
        n = self.next.get(table, 1)
        self.next[table] = n + 1
        return str(n)

    def add(self, table: str, record: dict[str, Any]) -> dict[str, Any]:
        self.tables[table].append(record)
        return record

    def rows(
        self, table: str, count: int, fields: Callable[[int], dict[str, Any]]
    ) -> Iterator[str]:
        """Add `count` records `{id, **fields(i), created_at, updated_at}`; yield each new id.

        A generator, so what the caller does with an id is drawn before the next record (the
        random sequence, and so the instance, depends on that order)."""
        for i in range(count):
            rid = self.new_id(table)
            self.add(table, {"id": rid, **fields(i), **self.stamps()})
            yield rid

    def add_content(self, table: str, record: dict[str, Any], owner: str) -> None:
        """Add a look or dashboard; a trashed one gets its deleter and is never referred to."""
        if record["deleted"]:
            record["deleted_at"] = record["updated_at"]
            record["deleter_id"] = owner
        self.add(table, record)
        if not record["deleted"]:
            self.ids[table].append(record["id"])

    def stamps(self) -> dict[str, str]:
        created = _ts(self.rng)
        updated = _ts(self.rng, created)
        return {"created_at": _iso(created), "updated_at": _iso(updated)}

    def text(self, lo: int, hi: int) -> str:
        n = self.rng.randint(lo, hi)
        return " ".join(self.rng.choice(WORDS + SUBJECTS).lower() for _ in range(n)).capitalize()

    def sample_ids(self, ids: list[str], lo: int, hi: int) -> list[str]:
        """Between lo and hi of ids (as many as there are), numerically sorted."""
        return sorted(set(self.rng.sample(ids, min(len(ids), self.rng.randint(lo, hi)))), key=int)

    def folder_for(self, owner: str) -> str:
        """Mostly a shared folder, sometimes the owner's personal one."""
        if self.rng.random() < 0.15:
            return self.personal[owner]
        return self.rng.choice(self.ids["folders"])

    def target(self) -> dict[str, str]:
        """What a board item or a scheduled plan points at: a dashboard (mostly) or a look."""
        dash_ids, look_ids = self.ids["dashboards"], self.ids["looks"]
        if dash_ids and (self.rng.random() < 0.6 or not look_ids):
            return {"dashboard_id": self.rng.choice(dash_ids)}
        if look_ids:
            return {"look_id": self.rng.choice(look_ids)}
        return {}


SYSTEM_FOLDERS: list[dict[str, Any]] = [
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


def _base(b: _Builder) -> None:
    """The part every instance has: system folders, built-in access, LookML, the API user."""
    stamp = {"created_at": _iso(BASE_TS), "updated_at": _iso(BASE_TS)}
    for f in SYSTEM_FOLDERS:
        b.add("folders", {**f, "creator_id": None, "content_metadata_id": f["id"], **stamp})
    b.next["folders"] = 5
    _built_in_access(b, stamp)
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
            b.add("explores", _explore(model, label, name, elabel, dims, measures))
    _user(b, "1", "Api", "Admin", "api-admin@example.com", ["1"], ["2"], stamp)


def _built_in_access(b: _Builder, stamp: dict[str, str]) -> None:
    """The Admin permission set, the All model set, the Admin role and the All Users group."""
    built_in = {"all_access": True, "built_in": True, **stamp}
    permissions = ["administer"] + PERMISSIONS
    b.add("permission_sets", {"id": "1", "name": "Admin", "permissions": permissions, **built_in})
    b.add("model_sets", {"id": "1", "name": "All", "models": sorted(LOOKML), **built_in})
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


def _explore(
    model: str, label: str, name: str, elabel: str, dims: list[str], measures: list[str]
) -> dict[str, Any]:
    return {
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
            "dimensions": _explore_fields(dims, "string", "dimension"),
            "measures": _explore_fields(measures, "number", "measure"),
            "filters": [],
            "parameters": [],
        },
    }


def _explore_fields(names: list[str], type_: str, category: str) -> list[dict[str, str]]:
    return [
        {
            "name": n,
            "label": n.split(".")[1].replace("_", " ").title(),
            "type": type_,
            "category": category,
        }
        for n in names
    ]


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


def _counts(n: int) -> dict[str, int]:
    """How many of each type make about n items (dashboards take what the others leave)."""
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
    return counts


def _content(b: _Builder, n: int) -> None:
    """About n content items of every type, each type built on the ones before it."""
    counts = _counts(n)
    _access(b, counts)
    _users(b, counts["users"])
    _folders(b, counts["folders"])
    _looks(b, counts["looks"])
    _dashboards(b, counts["dashboards"])
    _boards(b, counts["boards"])
    _scheduled_plans(b, counts["scheduled_plans"])


def _access(b: _Builder, counts: dict[str, int]) -> None:
    """Permission sets, model sets, groups, and roles (each role in a few groups)."""
    rng = b.rng
    for table, word, field, choices, lo in (
        ("permission_sets", "access", "permissions", PERMISSIONS, 2),
        ("model_sets", "models", "models", sorted(LOOKML), 1),
    ):
        b.ids[table] = list(
            b.rows(table, counts[table], _grant_fields(rng, word, field, choices, lo))
        )
    group_fields = {
        "include_by_default": False,
        "can_add_to_content_metadata": True,
        "externally_managed": False,
    }
    b.ids["groups"] = list(
        b.rows(
            "groups",
            counts["groups"],
            lambda i: {"name": f"{rng.choice(AREAS)} team {i + 1}", **group_fields},
        )
    )
    b.ids["roles"] = []
    for rid in b.rows("roles", counts["roles"], lambda i: _role_fields(b, i)):
        b.ids["roles"].append(rid)
        if b.ids["groups"]:
            b.role_groups[rid] = b.sample_ids(b.ids["groups"], 0, 3)


def _grant_fields(
    rng: random.Random, word: str, field: str, choices: list[str], lo: int
) -> Callable[[int], dict[str, Any]]:
    """A permission set's or model set's fields: at least lo of the choices."""

    def fields(i: int) -> dict[str, Any]:
        granted = sorted(rng.sample(choices, rng.randint(lo, len(choices))))
        return {
            "name": f"{rng.choice(AREAS)} {word} {i + 1}",
            field: granted,
            "all_access": False,
            "built_in": False,
        }

    return fields


def _role_fields(b: _Builder, i: int) -> dict[str, Any]:
    rng = b.rng
    return {
        "name": f"{rng.choice(AREAS)} {rng.choice(['Viewer', 'Analyst', 'Developer', 'Editor'])} {i + 1}",
        "permission_set_id": rng.choice(b.ids["permission_sets"]),
        "model_set_id": rng.choice(b.ids["model_sets"]),
    }


def _users(b: _Builder, count: int) -> None:
    """Users, each with a personal folder, in a few groups and roles; a few disabled."""
    rng = b.rng
    b.ids["users"] = ["1"]
    for i in range(count):
        uid = b.new_id("users")
        first, last = rng.choice(FIRST), rng.choice(LAST)
        groups = ["1"] + b.sample_ids(b.ids["groups"], 0, 3)
        roles = b.sample_ids(b.ids["roles"], 1, 2)
        email = f"{first}.{last}.{i + 2}@example.com".lower()
        user = _user(b, uid, first, last, email, groups, roles, b.stamps())
        user["is_disabled"] = rng.random() < 0.05
        b.ids["users"].append(uid)
    b.personal = {u["id"]: u["personal_folder_id"] for u in b.tables["users"]}


def _folders(b: _Builder, count: int) -> None:
    """The shared folder tree, several levels deep (shallow levels more likely)."""
    rng = b.rng
    shared: list[tuple[str, int]] = [("1", 0)]
    used_names: set[tuple[str, str]] = set()
    for i in range(count):
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
                "creator_id": rng.choice(b.ids["users"]),
                "content_metadata_id": fid,
                **b.stamps(),
            },
        )
        shared.append((fid, depth + 1))
    b.ids["folders"] = [f for f, _ in shared]


def _query(b: _Builder) -> dict[str, Any]:
    """A query on a random explore; some carry a large visualisation config."""
    rng = b.rng
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


def _looks(b: _Builder, count: int) -> None:
    """Looks, each with its own query; a few in the trash."""
    rng = b.rng
    b.ids["looks"] = []
    for i in range(count):
        owner = rng.choice(b.ids["users"])
        q = _query(b)
        lid = b.new_id("looks")
        deleted = rng.random() < 0.03
        rec = {
            "id": lid,
            "title": f"{rng.choice(SUBJECTS)} {rng.choice(WORDS)} {i + 1}",
            "description": b.text(0, 60) if rng.random() < 0.6 else "",
            "query_id": q["id"],
            "folder_id": b.folder_for(owner),
            "user_id": owner,
            "is_run_on_load": rng.random() < 0.3,
            "public": rng.random() < 0.05,
            "deleted": deleted,
            "view_count": rng.randrange(500),
            "favorite_count": rng.randrange(20),
            **b.stamps(),
        }
        b.add_content("looks", rec, owner)


def _dashboards(b: _Builder, count: int) -> None:
    """Dashboards with 1-30 tiles (query, look and text tiles), filters and a layout."""
    b.ids["dashboards"] = []
    for i in range(count):
        rec = _dashboard(b, i)
        layout_id = b.new_id("dashboard_layouts")
        b.add(
            "dashboard_layouts",
            {
                "id": layout_id,
                "dashboard_id": rec["id"],
                "type": "newspaper",
                "active": True,
                "column_width": None,
                "width": None,
                "created_at": rec["created_at"],
                "updated_at": rec["updated_at"],
            },
        )
        _tiles(b, rec, layout_id)
        _dashboard_filters(b, rec["id"])


def _dashboard(b: _Builder, i: int) -> dict[str, Any]:
    rng = b.rng
    owner = rng.choice(b.ids["users"])
    did = b.new_id("dashboards")
    deleted = rng.random() < 0.03
    rec = {
        "id": did,
        "title": f"{rng.choice(AREAS)} {rng.choice(SUBJECTS)} {rng.choice(WORDS)} {i + 1}",
        "description": b.text(0, 80) if rng.random() < 0.5 else "",
        "folder_id": b.folder_for(owner),
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
    b.add_content("dashboards", rec, owner)
    return rec


def _tiles(b: _Builder, dashboard: dict[str, Any], layout_id: str) -> None:
    """A dashboard's tiles, laid out left to right in rows 24 columns wide."""
    rng = b.rng
    tiles = max(1, min(30, int(rng.lognormvariate(1.6, 0.7))))
    row = col = 0
    for t in range(tiles):
        eid, height = _tile(b, dashboard, t)
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


def _tile(b: _Builder, dashboard: dict[str, Any], t: int) -> tuple[str, int]:
    """One text, look or query tile; returns its id and its height in the layout."""
    rng = b.rng
    look_ids = b.ids["looks"]
    eid = b.new_id("dashboard_elements")
    kind = rng.random()
    el: dict[str, Any] = {
        "id": eid,
        "dashboard_id": dashboard["id"],
        "title_hidden": False,
        "created_at": dashboard["created_at"],
        "updated_at": dashboard["updated_at"],
    }
    height = 6
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
    else:
        el.update(
            type="vis",
            query_id=_query(b)["id"],
            title=f"{rng.choice(SUBJECTS)} tile {t + 1}",
            note_text=b.text(0, 12) or None,
        )
    b.add("dashboard_elements", el)
    return eid, height


def _dashboard_filters(b: _Builder, did: str) -> None:
    rng = b.rng
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


def _boards(b: _Builder, count: int) -> None:
    """Boards with 1-4 sections of 1-6 items each (dashboards and looks)."""
    rng = b.rng
    for i in range(count):
        bid = b.new_id("boards")
        board = b.add(
            "boards",
            {
                "id": bid,
                "title": f"{rng.choice(AREAS)} board {i + 1}",
                "description": b.text(0, 20),
                "user_id": rng.choice(b.ids["users"]),
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
                b.add(
                    "board_items",
                    {"id": iid, "board_section_id": sid, "order": o + 1, **b.target()},
                )
                section["item_order"].append(iid)


def _scheduled_plans(b: _Builder, count: int) -> None:
    """Scheduled plans on dashboards and looks, each with 1-3 email destinations."""
    rng = b.rng
    for i in range(count):
        pid = b.new_id("scheduled_plans")
        plan: dict[str, Any] = {
            "id": pid,
            "name": f"{rng.choice(['Weekly', 'Daily', 'Monthly'])} {rng.choice(SUBJECTS)} {i + 1}",
            "user_id": rng.choice(b.ids["users"]),
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
            **b.target(),
        }
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
