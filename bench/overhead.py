"""Overhead-bound restore: zero latency, no rate limit. Who burns the CPU, restore or emulator?

Generates a source instance of --items mixed items, extracts a backup, and restores it --reps times
with --workers workers, each time into a fresh empty emulator subprocess (no latency, no limit, the
restore's own rate limiter off). The restore runs in this process (the product's parallel runner),
so its CPU is this process' CPU during the run; the emulator's is read from /proc/PID/stat.
`busy` is CPU seconds per wall second: near 1.0 a process is saturated (one GIL), and the busier
one is the bottleneck. Medians over the repetitions; the last line is stable and parseable:

    overhead items=10000 items_per_s=123.4 wall_s=81.0 restore_cpu_ms_per_item=6.1
      emulator_cpu_ms_per_item=2.0 restore_cpu_ms_per_request=0.67 emulator_cpu_ms_per_request=0.22
      cpu_ratio=3.05 cpu_ratio_ok=0 restore_busy=0.75 emulator_busy=0.25 requests_per_item=9.1
      failed=0 bottleneck=restore workers=8 reps=3 ok=1        (one line)

CPU per request sets the cost of the HTTP path apart from how many requests an item needs.

`cpu_ratio` is the restore's CPU per item over the emulator's (the two medians above), and
`cpu_ratio_ok=1` when it is at most 1.5: one process then passes 150 items/s wherever the
emulator alone could serve 300. The emulator's CPU per item grows with its state (a few hundred
items cost it less per item than ten thousand), so the ratio is higher on small instances.
`ok=1` when items_per_s >= 100 (the target for 10,000+ items with 8 workers).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    emulator,
    last_line,
    log,
    make_backup,
    median,
    run_restore,
    scenario_parser,
    setup_django,
)

TARGET_ITEMS_PER_S = 100.0
TARGET_CPU_RATIO = 1.5


def main(argv: list[str] | None = None) -> int:
    parser = scenario_parser(__doc__, items=10_000)
    args = parser.parse_args(argv)

    data = setup_django("overhead", keep=args.keep)
    backup = make_backup(data, args.items, args.seed)
    runs = []
    for rep in range(args.reps):
        with emulator() as emu:
            result = run_restore(backup, emu, workers=args.workers, fanout=args.fanout)
        log(f"rep {rep + 1}/{args.reps}: {result.describe()}")
        runs.append(result)
        print(
            f"rep={rep + 1} items={result.items} items_per_s={result.items_per_s:.1f} "
            f"restore_cpu_s={result.restore_cpu_s:.2f} emulator_cpu_s={result.emulator_cpu_s:.2f} "
            f"wall_s={result.wall_s:.1f} requests={result.total_requests} failed={result.failed}"
        )

    def per_item_ms(values: list[float]) -> float | None:
        return median(1000 * v / r.items for v, r in zip(values, runs, strict=True) if r.items)

    def per_request_ms(values: list[float]) -> float | None:
        return median(
            1000 * v / r.total_requests
            for v, r in zip(values, runs, strict=True)
            if r.total_requests
        )

    restore_busy = median(r.restore_cpu_s / r.wall_s for r in runs)
    emulator_busy = median(r.emulator_cpu_s / r.wall_s for r in runs)
    items_per_s = median(r.items_per_s for r in runs)
    restore_ms = per_item_ms([r.restore_cpu_s for r in runs])
    emulator_ms = per_item_ms([r.emulator_cpu_s for r in runs])
    cpu_ratio = restore_ms / emulator_ms if restore_ms and emulator_ms else None
    print(
        last_line(
            "overhead",
            {
                "items": runs[0].items,
                "items_per_s": items_per_s,
                "wall_s": median(r.wall_s for r in runs),
                "restore_cpu_ms_per_item": restore_ms,
                "emulator_cpu_ms_per_item": emulator_ms,
                "restore_cpu_ms_per_request": per_request_ms([r.restore_cpu_s for r in runs]),
                "emulator_cpu_ms_per_request": per_request_ms([r.emulator_cpu_s for r in runs]),
                "cpu_ratio": cpu_ratio,
                "cpu_ratio_ok": cpu_ratio is not None and cpu_ratio <= TARGET_CPU_RATIO,
                "restore_busy": restore_busy,
                "emulator_busy": emulator_busy,
                "requests_per_item": median(r.requests_per_item for r in runs),
                "failed": max(r.failed for r in runs),
                "bottleneck": "restore" if restore_busy >= emulator_busy else "emulator",
                "workers": args.workers,
                "fanout": args.fanout,
                "reps": args.reps,
                "ok": (items_per_s or 0) >= TARGET_ITEMS_PER_S,
            },
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
