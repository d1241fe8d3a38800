"""Default settings against tuned ones, side by side, at several latencies, no rate limit.

"Default" is what a user gets who sets nothing (`RestoreConfig()`: 8 workers, fan-out 4 and no
rate ceiling, so the limiter starts at a safe rate and finds what the destination takes);
"tuned" is what the other benchmarks ran: the same with a ceiling so high it never binds
(`--rate-limit-per-second 100000`: no slow start, no latency watch). Each latency restores
--items mixed items into a fresh empty emulator, default and tuned alternating (default, tuned,
default, tuned, ... with --reps > 1) in one run. Prints per run items/s, requests/s, the 429s and
the limiter's final state (the rate it settled at and why); the last line is parseable:

    defaults items=10393 default_0ms_items_per_s=... tuned_0ms_items_per_s=... ratio_0ms=...
      default_50ms_items_per_s=... ratio_50ms=... ok=1      (one line)

`ratio_<L>ms` = default / tuned items/s (medians); `ok=1` when every ratio >= 0.9.
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

TARGET_RATIO = 0.9
TUNED_CEILING = 100_000.0


def main(argv: list[str] | None = None) -> int:
    parser = scenario_parser(__doc__, items=10_000, reps=1)
    parser.add_argument("--latencies", type=float, nargs="+", default=[0.0, 50.0])
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    args = parser.parse_args(argv)

    data = setup_django("defaults", keep=args.keep)
    backup = make_backup(data, args.items, args.seed)
    configs = {
        "default": {},  # nothing set: what a new user gets
        "tuned": {
            "workers": args.workers,
            "fanout": args.fanout,
            "rate_limit_per_second": TUNED_CEILING,
        },
    }
    fields: dict[str, object] = {}
    items = 0
    ok = True
    for latency in args.latencies:
        tag = f"{latency:g}ms"
        runs: dict[str, list] = {"default": [], "tuned": []}
        for rep in range(args.reps):
            for name, config in configs.items():
                with emulator(latency_ms=latency or None, jitter_ms=args.jitter_ms or None) as emu:
                    result = run_restore(backup, emu, **config)
                limiter = result.summary.get("rate_limiter") or {}
                log(f"{tag} {name} rep {rep + 1}: {result.describe()}")
                print(
                    f"latency={tag} config={name} rep={rep + 1} items={result.items} "
                    f"items_per_s={result.items_per_s:.1f} "
                    f"requests_per_s={result.total_requests / result.wall_s:.1f} "
                    f"requests_per_item={result.requests_per_item:.2f} "
                    f"429s={result.count_status('429')} failed={result.failed} "
                    f"wall_s={result.wall_s:.1f} settled_rate={limiter.get('settled_rate')} "
                    f"peak_rate={limiter.get('peak_rate')} "
                    f"latency_cuts={limiter.get('latency_cuts')}\n"
                    f"  reason: {limiter.get('reason')}\n"
                    f"  before: {limiter.get('recent_reasons')}",
                    flush=True,
                )
                runs[name].append(result)
                items = result.items
        for name in configs:
            fields[f"{name}_{tag}_items_per_s"] = median(r.items_per_s for r in runs[name])
            fields[f"{name}_{tag}_requests_per_s"] = median(
                r.total_requests / r.wall_s for r in runs[name]
            )
            fields[f"{name}_{tag}_failed"] = max(r.failed for r in runs[name])
        ratio = (fields[f"default_{tag}_items_per_s"] or 0) / (
            fields[f"tuned_{tag}_items_per_s"] or 1
        )
        fields[f"ratio_{tag}"] = ratio
        ok = ok and ratio >= TARGET_RATIO
    print(last_line("defaults", {"items": items, **fields, "reps": args.reps, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
