"""Requests per item, by content type and by route: where a restore's requests go.

Three sessions of one generated instance (--items, --seed), each counted from the emulator's
`GET /_emulator/stats` and attributed to content types by level (bench/common.py):

- `migration`: into an empty emulator through a fresh destination (everything created);
- `rerun`: the same session again into that emulator and destination (everything mapped, nothing
  to change);
- `noop`: into the source instance itself through a fresh destination (no ID map: every item is
  found by the identity checks and found unchanged).

With `--shape lookervault` the backup is written as lookervault's `extract` writes it (looks with a
`query_id` and no `query`) and the sessions are `migration` (no source instance named: the looks
whose query is in no tile are blocked), `migration_source` and `rerun_source` (with the source
instance named, into another empty emulator); the source's own requests are counted too:
`source_query_reads` against `source_queries_needed` (each query the backup lacks is read at most
once per session) and `source_writes` (always 0).

It counts requests, not time, so a loaded machine does not change its figures; run it in an older
checkout too (`git worktree add /tmp/before REV`) to compare. Prints, per run, the requests per item
of each type and the routes of each type (requests per item of that type), and ends with

    requests_per_item items=N migration_rpi=... rerun_rpi=... noop_rpi=...
      migration_rpi_<type>=... rerun_rpi_<type>=... noop_rpi_<type>=... failed=0 ok=1   (one line)

(`ok` = every run completed with nothing failed).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    SECOND_PASS,
    SESSION_LEVEL,
    RunResult,
    emulator,
    generate_state,
    last_line,
    log,
    new_destination,
    new_session,
    run_measured,
    setup_django,
)


def route_table(result: RunResult) -> str:
    """Per type: its items, requests per item, and each route's requests per item of the type."""
    lines = []
    for slug, level in result.levels.items():
        n = result.items if slug in (SECOND_PASS, SESSION_LEVEL) else result.items_of(slug)
        if slug == SESSION_LEVEL:
            n = 0
        per = f"{level.total / n:6.2f}/item" if n else f"{level.total:6d} total"
        lines.append(f"  {slug:18} items={n:<6} requests={level.total:<7} {per}")
        routes: Counter[str] = Counter()
        for (method, route, status), count in level.requests.items():
            routes[f"{method} {route}" + ("" if status.startswith("2") else f" [{status}]")] += (
                count
            )
        for route, count in routes.most_common():
            share = f"{count / n:6.2f}" if n else f"{count:6d}"
            lines.append(f"      {share}  {route}")
    return "\n".join(lines)


def measure(label: str, backup: Any, emu: Any, dest: Any, **config: Any) -> RunResult:
    session = new_session(backup, dest, workers=8, **config)
    result = run_measured(session.pk, emu)
    log(f"{label}: {result.describe()}")
    print(f"{label}: {result.total_requests} requests, {result.requests_per_item:.2f} per item")
    print(route_table(result), flush=True)
    return result


def with_source(backup: Any, src: Any, runs: dict[str, RunResult]) -> dict[str, Any]:
    """Migrate again into another empty emulator with the source instance named (then again:
    the rerun), counting what the source was asked."""
    source = new_destination(src)
    with emulator() as empty:
        dest = new_destination(empty)
        src.reset()
        runs["migration_source"] = measure(
            "migration_source", backup, empty, dest, source_destination_id=source.pk
        )
        stats = src.stats()
        runs["rerun_source"] = measure(
            "rerun_source", backup, empty, dest, source_destination_id=source.pk
        )
    gets = Counter()
    writes = 0
    for r in stats["requests"]:
        if r["method"] == "GET":
            gets[r["route"].rsplit("/", 2)[-2]] += r["count"]
        elif not r["route"].endswith(("/login", "/logout")):
            writes += r["count"]
    return {
        "source_query_reads": gets["queries"],
        "source_merge_query_reads": gets["merge_queries"],
        "source_queries_needed": queries_lacking(backup.path),
        "source_writes": writes,
    }


def queries_lacking(path: str) -> int:
    """Queries the backup's looks and tiles refer to and it holds nowhere (what the source gives)."""
    from restore.engine.backup.queries import QueryIndex
    from restore.engine.backup.reader import open_backup

    with open_backup(path) as reader:
        return QueryIndex(reader).missing()


def figures(runs: dict[str, RunResult], source_fields: dict[str, Any], shape: str) -> dict:
    """The last line's fields: requests per item by run and type, what was not done, the source."""
    fields: dict[str, Any] = {"items": runs["migration"].items}
    for label, run in runs.items():
        fields[f"{label}_rpi"] = run.requests_per_item
    for label, run in runs.items():
        for slug, rpi in run.per_type().items():
            fields[f"{label}_rpi_{slug}"] = rpi
    for label, run in runs.items():
        fields[f"{label}_failed"] = run.failed  # blocked ones included
    fields.update(source_fields)
    checked = [r for label, r in runs.items() if shape == "raw" or "source" in label]
    fields["failed"] = sum(r.failed for r in checked)
    fields["ok"] = fields["failed"] == 0 and all(r.status == "completed" for r in checked)
    if source_fields:
        reads, needed = source_fields["source_query_reads"], source_fields["source_queries_needed"]
        fields["ok"] = fields["ok"] and source_fields["source_writes"] == 0 and reads <= needed
    return fields


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=600, help="size of the generated instance")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the throwaway data dir")
    parser.add_argument(
        "--shape",
        choices=("raw", "lookervault"),
        default="raw",
        help="the backup's blobs: the API's JSON, or as lookervault's extract writes them",
    )
    args = parser.parse_args(argv)

    data = setup_django("rpi", keep=args.keep)
    from looker_emulator.extract import extract
    from restore.models import Backup

    state = generate_state(data / "source.json", args.items, args.seed)
    runs: dict[str, RunResult] = {}
    with emulator(state) as src, emulator() as empty:
        path = data / "backup.db"
        extract(
            src.url,
            path,
            client_id=src.client_id,
            client_secret=src.client_secret,
            shape=args.shape,
        )
        backup = Backup.register(path)
        if not backup.verify():
            raise SystemExit(f"backup failed verification: {backup.verification_error}")
        into_empty = new_destination(empty)
        runs["migration"] = measure("migration", backup, empty, into_empty)
        source_fields: dict[str, Any] = {}
        if args.shape == "lookervault":
            source_fields = with_source(backup, src, runs)
        else:
            runs["rerun"] = measure("rerun", backup, empty, into_empty)
            runs["noop"] = measure("noop", backup, src, new_destination(src))

    fields = figures(runs, source_fields, args.shape)
    print(last_line("requests_per_item", fields))
    return 0 if fields["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
