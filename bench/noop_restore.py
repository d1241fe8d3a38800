"""A no-op same-instance restore at a latency: requests per item (by type) and wall time.

A generated instance (--items, default 10,000) is extracted into a backup, then served with
--latency-ms per request (default 20) and restored into itself through a fresh destination: every
item is found by the identity checks and found unchanged, nothing is written. What it costs is
the reading of the destination: one GET per item, or (types with many items selected and no
sub-resources) the type read in pages (`item.paged`).

Requests are counted by the emulator (`/_emulator/stats`), per restore level (bench/common.py);
`session` is the session's own (login, GET /versions, the identity sample). Ends with

    noop_restore items=N rpi=... wall_s=... rpi_<type>=... writes=0 latency_ms=20.0 ok=1

(`ok` = completed, nothing failed, nothing written). Run it in an older checkout too, alternating,
to compare.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    emulator,
    generate_state,
    last_line,
    level_table,
    log,
    run_restore,
    scenario_parser,
    setup_django,
)

LOGIN_ROUTES = ("/login", "/logout")


def writes(result: Any) -> int:
    """Requests that are not reads (login aside): a no-op restore sends none."""
    return sum(
        n
        for (method, route, _), n in result.requests.items()
        if method != "GET" and not route.endswith(LOGIN_ROUTES)
    )


def main(argv: list[str] | None = None) -> int:
    parser = scenario_parser(__doc__, items=10_000, reps=1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args(argv)
    data = setup_django("noop", keep=args.keep)
    from looker_emulator.extract import extract
    from restore.models import Backup

    state = generate_state(data / "source.json", args.items, args.seed)
    with emulator(state) as emu:
        path = data / "backup.db"
        extract(emu.url, path, client_id=emu.client_id, client_secret=emu.client_secret)
        backup = Backup.register(path)
        if not backup.verify():
            raise SystemExit(f"backup failed verification: {backup.verification_error}")
        emu.set_faults(latency_ms=args.latency_ms)
        runs = []
        for rep in range(args.reps):
            result = run_restore(backup, emu, workers=args.workers, fanout=args.fanout)
            log(f"noop {rep + 1}/{args.reps}: {result.describe()}")
            print(level_table(result), flush=True)
            runs.append(result)
    last = runs[-1]
    fields: dict[str, Any] = {
        "items": last.items,
        "rpi": round(last.requests_per_item, 3),
        "wall_s": round(min(r.wall_s for r in runs), 1),
    }
    fields.update({f"rpi_{slug}": round(v, 3) for slug, v in last.per_type().items()})
    fields["writes"] = sum(writes(r) for r in runs)
    fields["failed"] = sum(r.failed for r in runs)
    fields["latency_ms"] = args.latency_ms
    fields["workers"] = args.workers
    fields["ok"] = (
        fields["writes"] == 0
        and fields["failed"] == 0
        and all(r.status == "completed" for r in runs)
    )
    print(last_line("noop_restore", fields))
    return 0 if fields["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
