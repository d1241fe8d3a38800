"""A long 429 storm against a running restore: does every worker slow down, and how fast does
throughput come back? (The short version is tests/execution/test_rate_limit_storm.py.)

Runs in a throwaway data dir: generates a source instance, extracts a backup, restores it into an
empty emulator at --rate requests/s with --workers workers, throws a --storm seconds 429 storm after
--warmup seconds, and measures --after seconds more. The last line is stable and parseable:

    rate_limit_storm pre_rps=40.0 storm_rps=0.0 storm_429s=3 recovered_after_s=1.5 post_rps=39.9 ok=1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "execution"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--storm", type=float, default=30.0)
    parser.add_argument("--after", type=float, default=40.0)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="storm-bench-"))
    os.environ["LOOKERVAULT_DATA_DIR"] = str(data)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lookervault_web.settings")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from exec_helpers import make_backup, make_destination, new_session
    from storm import measure_storm

    from looker_emulator.testing import running_emulator
    from restore.engine import run_session
    from restore.models import RestoreSession

    call_command("migrate", verbosity=0)
    with running_emulator(items=args.items, seed=1) as src:
        backup = make_backup(src, data / "backup.db")
    with running_emulator(latency_ms=args.latency_ms) as emu:
        dest = make_destination(emu)
        session = new_session(backup, dest, workers=args.workers, rate_limit_per_second=args.rate)
        runner = threading.Thread(target=run_session, args=(session.pk,), daemon=True)
        runner.start()
        try:
            report = measure_storm(emu, warmup=args.warmup, storm=args.storm, after=args.after)
        finally:
            RestoreSession.objects.get(pk=session.pk).request_cancel()
            runner.join(120)
    ok = (
        report.recovered_after is not None
        and report.recovered_after <= 30
        and report.post_rate >= 0.9 * report.pre_rate
    )
    for t, n_ok, n429 in report.samples[:: max(1, len(report.samples) // 60)]:
        print(f"t={t:6.1f}s ok={n_ok} 429={n429}")
    recovered = "none" if report.recovered_after is None else f"{report.recovered_after:.1f}"
    print(
        f"rate_limit_storm pre_rps={report.pre_rate:.1f} storm_rps={report.storm_rate:.1f} "
        f"storm_429s={report.storm_429s} recovered_after_s={recovered} "
        f"post_rps={report.post_rate:.1f} ok={int(ok)}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
