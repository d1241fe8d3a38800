"""Rate-limited restore: the emulator answers 429 beyond --limit requests/s. Does the restore find
the limit and use it fully, with or without being told, and how fast does it recover from a storm?

Generates a source instance of --items mixed items, extracts a backup, and per repetition runs,
side by side (interleaved), two configurations of the restore's own rate limiter against a fresh
empty emulator subprocess limited to --limit requests/s (token bucket, burst one second, 429 with
`Retry-After` beyond it):

- `adaptive`: `rate_limit_per_second` unset — the adaptive limiter has to find the limit from 429s;
- `set`: `rate_limit_per_second` = --limit — the limiter is told the limit.

Each full restore gives items/s against the ideal `limit / requests per item`, where requests per
item counts the answered (non-429) requests only (the emulator's bucket spends no token on a 429),
and the number of 429s received. Then, unless --storm 0, each configuration also restores into
another fresh limited emulator while `tests/execution/storm.py` samples the emulator's counters:
--warmup s of steady state, a --storm s storm (every request answered 429 with a Retry-After saying
when it ends), --after s more; `recovered_s` is how long after the storm the request rate is back
within 10% of the pre-storm rate (`none`: not within --after). The session is then cancelled.

Medians over the repetitions, per configuration; the last line is stable and parseable:

    rate_limited limit=50.0 items=1000 adaptive_items_per_s=4.1 adaptive_ideal_items_per_s=4.9
      adaptive_ratio=0.84 adaptive_429s=310 adaptive_failed=0 adaptive_recovered_s=3.2
      set_items_per_s=4.8 ... set_recovered_s=1.1 requests_per_item=10.2 reps=3 ok=1  (one line)

`ok=1` when the `set` ratio is >= 0.9 (the target); the adaptive ratio is reported alongside.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    EmulatorProcess,
    RunResult,
    emulator,
    last_line,
    log,
    make_backup,
    median,
    new_destination,
    new_session,
    run_restore,
    scenario_parser,
    setup_django,
)

TARGET_RATIO = 0.9
CONFIGS = ("adaptive", "set")


def limiter_rate(config: str, limit: float) -> float | None:
    return limit if config == "set" else None


def ok_requests_per_item(result: RunResult) -> float:
    """Answered requests per item: what the limit has to carry for every item."""
    ok = result.total_requests - result.count_status("429")
    return ok / result.items if result.items else 0.0


def storm_run(
    backup: Any, emu: EmulatorProcess, *, workers: int, rate: float | None, args: Any
) -> dict[str, Any]:
    """A session in a thread, sampled through a storm by measure_storm, then cancelled."""
    from restore.engine import run_session
    from restore.models import RestoreSession
    from tests.execution.storm import measure_storm

    session = new_session(
        backup,
        new_destination(emu),
        workers=workers,
        fanout=args.fanout,
        rate_limit_per_second=rate,
    )
    runner = threading.Thread(target=run_session, args=(session.pk,), daemon=True)
    runner.start()
    try:
        report = measure_storm(emu, warmup=args.warmup, storm=args.storm, after=args.after)
    finally:
        RestoreSession.objects.get(pk=session.pk).request_cancel()
        runner.join(120)
    status = RestoreSession.objects.get(pk=session.pk).status
    # A session that completed before the end of the measurement leaves no traffic to recover.
    valid = status != RestoreSession.Status.COMPLETED
    if not valid:
        log("storm run: the session completed before the measurement ended; raise --items")
    return {
        "pre_rps": report.pre_rate,
        "storm_429s": report.storm_429s,
        "recovered_s": report.recovered_after if valid else None,
        "post_rps": report.post_rate,
    }


def main(argv: list[str] | None = None) -> int:
    parser = scenario_parser(__doc__, items=1_000)
    parser.add_argument("--limit", type=float, default=50.0, help="emulator requests/s")
    parser.add_argument("--warmup", type=float, default=20.0, help="storm run: steady state s")
    parser.add_argument("--storm", type=float, default=30.0, help="storm s (0 = no storm runs)")
    parser.add_argument("--after", type=float, default=40.0, help="storm run: s after the storm")
    args = parser.parse_args(argv)

    data = setup_django("rate-limited", keep=args.keep)
    backup = make_backup(data, args.items, args.seed)
    runs: dict[str, list[RunResult]] = {c: [] for c in CONFIGS}
    storms: dict[str, list[dict[str, Any]]] = {c: [] for c in CONFIGS}
    for rep in range(args.reps):
        for config in CONFIGS:
            rate = limiter_rate(config, args.limit)
            with emulator(rate_limit=args.limit) as emu:
                result = run_restore(
                    backup,
                    emu,
                    workers=args.workers,
                    fanout=args.fanout,
                    rate_limit_per_second=rate,
                )
            runs[config].append(result)
            ideal = args.limit / ok_requests_per_item(result)
            log(f"rep {rep + 1}/{args.reps} {config}: {result.describe()}")
            print(
                f"rep={rep + 1} config={config} items_per_s={result.items_per_s:.2f} "
                f"ideal_items_per_s={ideal:.2f} ratio={result.items_per_s / ideal:.3f} "
                f"429s={result.count_status('429')} failed={result.failed} "
                f"wall_s={result.wall_s:.1f}"
            )
        if args.storm > 0:
            for config in CONFIGS:
                started = time.monotonic()
                with emulator(rate_limit=args.limit) as emu:
                    storm = storm_run(
                        backup,
                        emu,
                        workers=args.workers,
                        rate=limiter_rate(config, args.limit),
                        args=args,
                    )
                storms[config].append(storm)
                log(f"rep {rep + 1}/{args.reps} {config} storm ({time.monotonic() - started:.0f}s)")
                print(
                    f"rep={rep + 1} config={config} storm "
                    + " ".join(f"{k}={v if v is None else round(v, 2)}" for k, v in storm.items())
                )

    fields: dict[str, Any] = {"limit": args.limit, "items": runs[CONFIGS[0]][0].items}
    ratios = {}
    for config in CONFIGS:
        rs = runs[config]
        ideals = [args.limit / ok_requests_per_item(r) for r in rs]
        ratios[config] = median(r.items_per_s / i for r, i in zip(rs, ideals, strict=True))
        fields[f"{config}_items_per_s"] = median(r.items_per_s for r in rs)
        fields[f"{config}_ideal_items_per_s"] = median(ideals)
        fields[f"{config}_ratio"] = ratios[config]
        fields[f"{config}_429s"] = median(r.count_status("429") for r in rs)
        fields[f"{config}_failed"] = max(r.failed for r in rs)
        if storms[config]:
            # Not recovering in a repetition counts as the worst case, not as missing.
            recovered = median(
                math.inf if s["recovered_s"] is None else s["recovered_s"] for s in storms[config]
            )
            fields[f"{config}_recovered_s"] = None if recovered == math.inf else recovered
            fields[f"{config}_storm_pre_rps"] = median(s["pre_rps"] for s in storms[config])
    fields["requests_per_item"] = median(ok_requests_per_item(r) for r in runs["set"])
    fields["workers"] = args.workers
    fields["fanout"] = args.fanout
    fields["reps"] = args.reps
    fields["ok"] = (ratios["set"] or 0) >= TARGET_RATIO
    print(last_line("rate_limited", fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
