"""Lists and searches: Looker's search parameter semantics, sorting, paging and `fields`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from looker_emulator.errors import ApiError
from looker_emulator.kinds import (
    CONTROL_PARAMS,
    KINDS,
    NESTED,
    PARAM_FIELD,
    SUB_RESOURCES,
    id_order,
    is_id_field,
    like_pattern,
)
from looker_emulator.spec import Route, Spec
from looker_emulator.state import State

DEEP_BY_DEFAULT = frozenset({"dashboards"})


class Listing:
    """Mixin of `Api`: list/search responses."""

    spec: Spec
    state: State
    base_url: str
    _response_schema: str | None
    arrange: Callable[[list[Any]], list[Any]]

    def respond_list(
        self, table: str, rows: Iterable[dict[str, Any]], query: dict[str, str]
    ) -> list[Any]:
        rows = list(rows)
        sorts = query.get("sorts")
        if sorts:
            rows = _sort(rows, sorts)
        offset, limit = _page(query)
        if offset or limit is not None:
            rows = rows[offset : None if limit is None else offset + limit]
        if not sorts and table in SUB_RESOURCES:
            rows = self.arrange(
                rows
            )  # after paging: the pages stay the same, only their order moves
        fields = _fields(query.get("fields"))
        # Dashboards are answered whole, as the spec's `Dashboard` says, unless `fields` leaves the
        # nested parts out (the fast path: lists of 10,000 dashboards stay cheap). A folder's looks
        # and dashboards are only built when `fields` asks for them.
        nested = NESTED.get(table, frozenset())
        deep = table in DEEP_BY_DEFAULT if fields is None else bool(fields & nested)
        schema = self._response_schema
        out = [self.render(table, r, deep=deep, schema=schema) for r in rows]
        return [_project(o, fields) for o in out] if fields else out

    def respond_one(
        self, table: str, record: dict[str, Any], query: dict[str, str]
    ) -> dict[str, Any]:
        fields = _fields(query.get("fields"))
        out = self.render(table, record, schema=self._response_schema)
        return _project(out, fields) if fields else out

    def search(self, table: str, query: dict[str, str], route: Route) -> list[dict[str, Any]]:
        """Filter records by the operation's search parameters (Looker's LIKE, lists, IS NULL)."""
        kind = KINDS.get(table)
        filters: list[tuple[str, str]] = []
        for pname, value in query.items():
            if pname in CONTROL_PARAMS or pname not in route.query_params:
                continue
            fname = PARAM_FIELD.get((table, pname), pname)
            if kind and fname not in self.spec.model(kind.schema).fields and fname != "group_ids":
                continue
            filters.append((fname, value))
        if kind and kind.soft_delete and "deleted" not in query:
            filters.append(("deleted", "false"))
        filter_or = query.get("filter_or", "").lower() == "true"
        candidates: Iterable[dict[str, Any]] | None = None
        if not filter_or:
            for fname, value in filters:
                if (
                    self.state.indexed(table, fname)
                    and not any(c in value for c in "%_")
                    and value.upper() not in ("IS NULL", "NOT NULL")
                ):
                    values = value.split(",") if is_id_field(fname) else [value]
                    ids: set[str] = set()
                    for v in values:
                        ids |= self.state.lookup(table, fname, v.strip())
                    rows = self.state.tables[table]
                    candidates = [rows[i] for i in sorted(ids, key=id_order)]
                    break
        if candidates is None:
            candidates = self.state.all(table)
        if not filters:
            return list(candidates)
        fields = self.spec.model(kind.schema).fields if kind else {}
        matchers = [
            (f, _matcher(f, v, fields[f].type if f in fields else "string")) for f, v in filters
        ]
        out = []
        for rec in candidates:
            hits = (m(_field_value(rec, f)) for f, m in matchers)
            if any(hits) if filter_or else all(hits):
                out.append(rec)
        return out


def _fields(raw: str | None) -> frozenset[str] | None:
    if not raw:
        return None
    # "id,title,dashboard_elements(id,title)" -> top-level names only.
    depth, cur, names = 0, "", set()
    for ch in raw:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            names.add(cur.strip())
            cur = ""
        elif depth == 0:
            cur += ch
    names.add(cur.strip())
    return frozenset(n for n in names if n)


def _project(obj: dict[str, Any], fields: frozenset[str] | None) -> dict[str, Any]:
    if not fields:
        return obj
    return {k: v for k, v in obj.items() if k in fields}


def _page(query: dict[str, str]) -> tuple[int, int | None]:
    try:
        if "limit" in query or "offset" in query:
            limit = int(query["limit"]) if query.get("limit") else None
            return int(query.get("offset") or 0), limit
        if "per_page" in query:
            per = int(query["per_page"])
            return (int(query.get("page") or 1) - 1) * per, per
    except ValueError as exc:
        raise ApiError(400, f"Invalid paging parameter: {exc}") from exc
    return 0, None


def _sort(rows: list[dict[str, Any]], sorts: str) -> list[dict[str, Any]]:
    for part in reversed([p.strip() for p in sorts.split(",") if p.strip()]):
        name, _, direction = part.partition(" ")
        desc = direction.strip().lower() == "desc"
        rows = sorted(rows, key=lambda r, n=name: _sort_key(r.get(n)), reverse=desc)
    return rows


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (0, 0)
    if isinstance(v, str) and v.isdigit():
        return (1, int(v))
    if isinstance(v, bool | int | float):
        return (1, v)
    return (2, str(v).lower())


def _field_value(rec: dict[str, Any], fname: str) -> Any:
    return rec.get(fname)


def _matcher(fname: str, value: str, ftype: str = "string") -> Callable[[Any], bool]:
    upper = value.strip().upper()
    if upper == "IS NULL":
        return lambda v: v is None or v == []
    if upper == "NOT NULL":
        return lambda v: v is not None and v != []
    if ftype == "boolean":
        want = value.lower() == "true"
        return lambda v: bool(v) == want if not isinstance(v, list) else False

    def listwise(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
        return lambda v: any(test(x) for x in v) if isinstance(v, list) else test(v)

    if is_id_field(fname):
        wanted = {p.strip() for p in value.split(",")}
        return listwise(lambda v: v is not None and str(v) in wanted)
    if "%" in value or "_" in value:
        rx = like_pattern(value)
        return listwise(lambda v: v is not None and rx.fullmatch(str(v)) is not None)
    low = value.lower()
    return listwise(lambda v: v is not None and str(v).lower() == low)
