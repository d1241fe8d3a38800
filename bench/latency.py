"""Latency-bound restore: every request takes 50 ms ± jitter. How close to the ideal do we get?

Generates a source instance of --items mixed items, extracts a backup, and restores it --reps times
with --workers workers into a fresh empty emulator subprocess that delays every API request by
--latency-ms plus uniform(0, --jitter-ms) (the restore's own rate limiter off). With W workers
each waiting on one request at a time, the ideal is

    ideal items/s = W / (mean latency s × requests per item),  mean latency = latency + jitter / 2

using this run's own requests per item (the emulator's count of API requests / items). The
achieved/ideal ratio says how much time workers spend not waiting on a request (CPU, the database,
level boundaries, levels with fewer items than workers, folders waiting for their parents).

Requests per item per type: the emulator's counters are read at each level boundary of the
session (levels run one after another), so every request is charged to the type being restored
then — a look's POST /queries to looks, a dashboard's tiles, layout and owner lookup to
dashboards. Requests outside the levels (login, GET /versions) are `session` (absolute count);
the second pass over deferred references (users' groups and roles) is `rpi_second_pass`, per
item restored overall. Medians over the repetitions; the last line is stable and parseable:

    latency items=5000 items_per_s=60.1 ideal_items_per_s=66.0 ratio=0.91 requests_per_item=2.2
      avg_in_flight=7.3 latency_ms=50.0 jitter_ms=10.0 workers=8 rpi_user=4.0 ... reps=3 ok=1

`ok=1` when ratio >= 0.9 (the target).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    SESSION_LEVEL,
    emulator,
    last_line,
    level_table,
    log,
    make_backup,
    median,
    per_type_medians,
    run_restore,
    scenario_parser,
    setup_django,
)

TARGET_RATIO = 0.9


def main(argv: list[str] | None = None) -> int:
    parser = scenario_parser(__doc__, items=5_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--jitter-ms", type=float, default=10.0)
    args = parser.parse_args(argv)

    data = setup_django("latency", keep=args.keep)
    backup = make_backup(data, args.items, args.seed)
    mean_latency_s = (args.latency_ms + args.jitter_ms / 2) / 1000
    runs, ideals, in_flight = [], [], []
    for rep in range(args.reps):
        with emulator(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms, seed=rep + 1) as emu:
            result = run_restore(backup, emu, workers=args.workers, fanout=args.fanout)
        ideal = args.workers / (mean_latency_s * result.requests_per_item)
        runs.append(result)
        ideals.append(ideal)
        # Little's law: requests in flight on average = request rate × mean latency.
        in_flight.append(result.total_requests / result.wall_s * mean_latency_s)
        log(f"rep {rep + 1}/{args.reps}: {result.describe()}")
        print(
            f"rep={rep + 1} items_per_s={result.items_per_s:.2f} ideal_items_per_s={ideal:.2f} "
            f"ratio={result.items_per_s / ideal:.3f} requests_per_item={result.requests_per_item:.2f}"
            f" avg_in_flight={in_flight[-1]:.2f} wall_s={result.wall_s:.1f} failed={result.failed}"
        )
        print(level_table(result))

    items_per_s = median(r.items_per_s for r in runs)
    ratio = median(r.items_per_s / i for r, i in zip(runs, ideals, strict=True))
    print(
        last_line(
            "latency",
            {
                "items": runs[0].items,
                "items_per_s": items_per_s,
                "ideal_items_per_s": median(ideals),
                "ratio": ratio,
                "requests_per_item": median(r.requests_per_item for r in runs),
                "avg_in_flight": median(in_flight),
                "wall_s": median(r.wall_s for r in runs),
                "failed": max(r.failed for r in runs),
                "latency_ms": args.latency_ms,
                "jitter_ms": args.jitter_ms,
                "workers": args.workers,
                "fanout": args.fanout,
                **per_type_medians(runs),
                "session_requests": median(
                    r.levels[SESSION_LEVEL].total if SESSION_LEVEL in r.levels else 0 for r in runs
                ),
                "reps": args.reps,
                "ok": (ratio or 0) >= TARGET_RATIO,
            },
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
