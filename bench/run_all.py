"""Run every benchmark script, one after another, and collect their last lines.

Each script runs as its own process (so none disturbs another's figures) with its defaults, or
with small sizes under --quick (a smoke test of the whole set in a few minutes). Their output is
streamed as it comes; a script that runs past --timeout is stopped with its whole process group
(emulators and clusters included). At the end the collected last lines are printed, one per
script, then the stable, parseable last line:

    run_all scripts=8 failed=0 not_ok=latency,single_item seconds=1234.5 quick=0

`failed` counts scripts that printed no `<name> key=value` last line or exited non-zero (exit 1
with `ok=0` is a missed target, not a failure); `not_ok` lists the scripts whose last line says
`ok=0` (a target missed), `none` when there are none.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# (script, quick arguments): the order runs cheap and independent checks first.
SCRIPTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("emulator_throughput.py", ("--seconds", "2")),
    ("web_pages.py", ("--items", "2000", "--dlq", "200", "--runs", "2")),
    ("single_item.py", ("--runs", "2")),
    ("overhead.py", ("--items", "300", "--reps", "1")),
    ("latency.py", ("--items", "200", "--reps", "1")),
    (
        "rate_limited.py",
        ("--items", "150", "--reps", "1", "--warmup", "4", "--storm", "4", "--after", "6"),
    ),
    ("rate_limit_storm.py", ("--items", "300", "--warmup", "5", "--storm", "5", "--after", "8")),
    ("scale_memory.py", ("--small", "200", "--large", "1000", "--reps", "1")),
    ("drift.py", ("--items", "300")),
    ("noop_restore.py", ("--items", "300")),
)
TAKES_REPS = {"overhead.py", "latency.py", "rate_limited.py", "scale_memory.py", "single_item.py"}


def run_script(cmd: list[str], timeout_s: float) -> tuple[int, str]:
    """Run cmd, echo its stdout, return (exit code, last non-empty stdout line)."""
    proc = subprocess.Popen(
        cmd,
        cwd=BENCH.parent,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a timeout stops its children too
    )
    timed_out = threading.Event()

    def kill_group() -> None:
        timed_out.set()
        for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue

    timer = threading.Timer(timeout_s, kill_group)
    timer.start()
    last = ""
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.strip():
                last = line.strip()
        code = proc.wait()
    finally:
        timer.cancel()
    if timed_out.is_set():
        print(f"# stopped after {timeout_s:.0f}s", flush=True)
        return 124, last
    return code, last


def parse_last_line(name: str, line: str) -> dict[str, str]:
    """The key=value fields of `name k=v ...`; empty when the line is not one."""
    words = line.split()
    if not words or words[0] != name:
        return {}
    return dict(w.split("=", 1) for w in words[1:] if "=" in w)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--only", nargs="+", default=None, help="script names (without .py)")
    parser.add_argument("--reps", type=int, default=None, help="pass --reps N where supported")
    parser.add_argument(
        "--timeout", type=float, default=None, help="max s per script (4 h, or 15 min --quick)"
    )
    args = parser.parse_args(argv)
    timeout_s = args.timeout or (900.0 if args.quick else 4 * 3600.0)

    started = time.monotonic()
    collected: list[tuple[str, int, str]] = []
    for script, quick_args in SCRIPTS:
        name = script.removesuffix(".py")
        if args.only and name not in args.only:
            continue
        extra = list(quick_args) if args.quick else []
        if args.reps is not None and script in TAKES_REPS:
            extra += ["--reps", str(args.reps)]
        cmd = [sys.executable, str(BENCH / script), *extra]
        print(f"# {' '.join(cmd[1:])}", flush=True)
        t0 = time.monotonic()
        code, last = run_script(cmd, timeout_s)
        print(f"# {name}: exit {code} in {time.monotonic() - t0:.0f}s", flush=True)
        collected.append((name, code, last))

    print("\n# last lines")
    failed, not_ok = 0, []
    for name, code, last in collected:
        fields = parse_last_line(name, last)
        missed = fields.get("ok") == "0"  # a script may exit 1 for a missed target: not a failure
        valid = bool(fields) and (code == 0 or (code == 1 and missed))
        failed += not valid
        print(last if valid else f"{name} FAILED exit={code} last={last!r}")
        if valid and missed:
            not_ok.append(name)
    print(
        f"run_all scripts={len(collected)} failed={failed} not_ok={','.join(not_ok) or 'none'} "
        f"seconds={time.monotonic() - started:.1f} quick={int(args.quick)}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
