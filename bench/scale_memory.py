"""Scale and memory: does a 10× bigger restore take 10× the time but the same memory?

Generates two source instances (--small and --large items), extracts a backup of each, and per
repetition restores each (interleaved: small, large, small, large, ...) into a fresh empty emulator
subprocess with --latency-ms per request, on a real django-q cluster (`manage.py qcluster`, ORM
broker on this run's throwaway SQLite, Q_WORKERS=1) — the way the web app runs a session
(`restore.tasks.enqueue_session`). A new cluster per run, so each peak is that run's own.

While it runs, VmHWM (peak RSS) is read from /proc/PID/status of every process of the cluster
(the qcluster main process and all its descendants); `restore_peak_rss_mb` is the peak of the
worker that ran the session (its PID is in the session's worker_id), `cluster_peak_rss_mb` the
highest of any cluster process. Wall time is the session's started_at → finished_at. Medians over
the repetitions; the last line is stable and parseable:

    scale_memory small=5000 large=50000 small_wall_s=80.1 large_wall_s=820.4
      small_items_per_s=62.4 large_items_per_s=61.0 small_peak_rss_mb=120.3
      large_peak_rss_mb=131.0 rss_ratio=1.09 latency_ms=20.0 workers=8 reps=3 ok=1   (one line)

`ok=1` when the large restore took under 10 minutes and rss_ratio <= 1.2 (the targets, for 50,000
vs 5,000 items).

`--processes N` (N > 1) runs the session distributed (LOOKERVAULT_DISTRIBUTED=1): a coordinator task
and chunk tasks on a cluster of N + 1 worker processes (Q_WORKERS), each chunk with --workers
threads, so N processes restore at once, each with its own GIL. The restore's peak RSS is then the
highest of the cluster's processes.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    add_common_args,
    backend_env,
    descendants,
    emulator,
    fmt,
    last_line,
    log,
    make_backup,
    median,
    new_destination,
    new_session,
    proc_status_kb,
    setup_django,
)

TARGET_LARGE_S = 600.0
TARGET_RSS_RATIO = 1.2
FINAL = ("completed", "failed", "cancelled")


@dataclass
class PeakSampler:
    """Samples VmHWM of a process tree until stopped: the highest value seen per PID."""

    root: int
    interval: float = 0.5
    peaks_kb: dict[int, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        for pid in [self.root, *descendants(self.root)]:
            kb = proc_status_kb(pid, "VmHWM")
            if kb is not None:
                self.peaks_kb[pid] = max(kb, self.peaks_kb.get(pid, 0))

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.sample()


@dataclass
class ConnectionSampler:
    """Samples the PostgreSQL connections open on the run's database until stopped (peak kept).

    A no-op on SQLite. Its own connection (one of the counted) is opened before the run starts.
    """

    interval: float = 0.5
    peak: int = 0
    at_peak: dict[str, int] = field(default_factory=dict)  # application_name → connections
    stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        from django.db import connection

        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT application_name, count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() GROUP BY 1"
            )
            names = {str(name): int(n) for name, n in cursor.fetchall()}
        if sum(names.values()) > self.peak:
            self.peak, self.at_peak = sum(names.values()), names

    def run(self) -> None:
        from django.db import connection

        try:
            while not self.stop.wait(self.interval):
                self.sample()
        finally:
            connection.close()


CONNECTION_ERRORS = ("too many clients", "connection failed", "OperationalError", "PoolTimeout")


def connection_errors(*texts: str) -> int:
    """Lines naming a database connection error in the cluster's log and the items' errors."""
    return sum(
        1
        for text in texts
        for line in text.splitlines()
        if any(e in line for e in CONNECTION_ERRORS)
    )


def items_lost_to_connections(session_id: int) -> int:
    """Failed items of the session whose error is a database connection error."""
    from django.db.models import Q

    from restore.models import DeadLetterItem

    match = Q()
    for needle in CONNECTION_ERRORS:
        match |= Q(error_message__icontains=needle) | Q(error_class__icontains=needle)
    return DeadLetterItem.objects.filter(match, session_id=session_id).count()


def run_on_cluster(
    data: Path,
    backup: Any,
    *,
    latency_ms: float,
    workers: int,
    fanout: int,
    timeout_s: float,
    label: str,
    processes: int = 1,
) -> dict[str, Any]:
    """One session of the whole backup on a fresh qcluster; wall time, items, peak RSS."""
    from restore.models import RestoreSession
    from restore.tasks import enqueue_session
    from tests.procs import app_env, qcluster

    if processes > 1:
        env = app_env(
            data, Q_WORKERS=str(processes + 1), LOOKERVAULT_DISTRIBUTED="1", **backend_env()
        )
    else:
        env = app_env(data, Q_WORKERS="1", **backend_env())
    with emulator(latency_ms=latency_ms) as emu:
        session = new_session(backup, new_destination(emu), workers=workers, fanout=fanout)
        with qcluster(env, data / f"qcluster-{label}.log") as proc:
            sampler = PeakSampler(proc.pid)
            thread = threading.Thread(target=sampler.run, name="rss-sampler", daemon=True)
            thread.start()
            conns = ConnectionSampler()
            conns_thread = threading.Thread(target=conns.run, name="pg-sampler", daemon=True)
            conns_thread.start()
            enqueue_session(session.pk, distributed=processes > 1)
            deadline = time.monotonic() + timeout_s
            status = ""
            while time.monotonic() < deadline:
                status = RestoreSession.objects.get(pk=session.pk).status
                if status in FINAL or proc.poll() is not None:
                    break
                time.sleep(1.0)
            else:
                log(f"{label}: not finished after {timeout_s:.0f}s: cancelling")
                RestoreSession.objects.get(pk=session.pk).request_cancel()
                time.sleep(5)
            sampler.stop.set()
            conns.stop.set()
            thread.join(10)
            conns_thread.join(10)
            sampler.sample()  # the last word, before the cluster stops
        emulator_peak_kb = emu.peak_rss_kb()
    row = RestoreSession.objects.get(pk=session.pk)
    wall = (
        (row.finished_at - row.started_at).total_seconds()
        if row.finished_at and row.started_at
        else None
    )
    items = row.created + row.updated + row.unchanged + row.skipped + row.failed
    try:
        worker_pid = int((row.worker_id or "").split(":")[1])
    except (IndexError, ValueError):
        worker_pid = None
    peaks = sampler.peaks_kb
    log_text = (data / f"qcluster-{label}.log").read_text(errors="replace")
    if conns.at_peak:
        print(f"{label}: connections at the peak by application_name: {conns.at_peak}")
    print(
        f"{label}: peak RSS per process (MB): "
        + ", ".join(f"{pid}={kb / 1024:.1f}" for pid, kb in sorted(peaks.items()))
    )
    restore_kb = peaks.get(worker_pid) if worker_pid is not None else None
    if processes > 1:  # the chunks ran in every worker process
        restore_kb = max(peaks.values()) if peaks else None
    return {
        "status": str(row.status),
        "items": items,
        "failed": row.failed,
        "wall_s": wall,
        "items_per_s": items / wall if wall else None,
        "restore_peak_rss_mb": restore_kb / 1024 if restore_kb else None,
        "cluster_peak_rss_mb": max(peaks.values()) / 1024 if peaks else None,
        "processes": len(peaks),
        "emulator_peak_rss_mb": emulator_peak_kb / 1024 if emulator_peak_kb else None,
        "lost_to_connections": items_lost_to_connections(session.pk),
        "connection_error_lines": connection_errors(log_text, row.error_message or ""),
        "peak_db_connections": conns.peak or None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=5_000, help="items of the small instance")
    parser.add_argument("--large", type=int, default=50_000, help="items of the large instance")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="max seconds per restore")
    parser.add_argument(
        "--processes", type=int, default=1, help="worker processes (> 1: distributed session)"
    )
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgres+redis"],
        default="sqlite",
        help="the embedded default, or PostgreSQL + the Redis broker (the deployment at scale)",
    )
    add_common_args(parser)
    args = parser.parse_args(argv)

    data = setup_django("scale-memory", keep=args.keep, backend=args.backend)
    sizes = {"small": args.small, "large": args.large}
    backups = {name: make_backup(data, n, args.seed) for name, n in sizes.items()}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sizes}
    for rep in range(args.reps):
        for name in sizes:
            label = f"{name}-{rep + 1}"
            run = run_on_cluster(
                data,
                backups[name],
                latency_ms=args.latency_ms,
                workers=args.workers,
                fanout=args.fanout,
                timeout_s=args.timeout,
                label=label,
                processes=args.processes,
            )
            runs[name].append(run)
            print(f"rep={rep + 1} size={name} " + " ".join(f"{k}={fmt(v)}" for k, v in run.items()))

    fields: dict[str, Any] = dict(sizes)
    for name in sizes:
        for key in ("items", "wall_s", "items_per_s", "restore_peak_rss_mb", "cluster_peak_rss_mb"):
            fields[f"{name}_{key}"] = median(r[key] for r in runs[name])
        fields[f"{name}_failed"] = max(r["failed"] for r in runs[name])
        for key in ("lost_to_connections", "connection_error_lines"):
            fields[f"{name}_{key}"] = max(r[key] for r in runs[name])
        peaks = [r["peak_db_connections"] for r in runs[name] if r["peak_db_connections"]]
        fields[f"{name}_peak_db_connections"] = max(peaks) if peaks else None  # none: SQLite
        fields[f"{name}_emulator_peak_rss_mb"] = median(
            r["emulator_peak_rss_mb"] for r in runs[name]
        )
    small_rss, large_rss = fields["small_restore_peak_rss_mb"], fields["large_restore_peak_rss_mb"]
    fields["rss_ratio"] = large_rss / small_rss if small_rss and large_rss else None
    fields["latency_ms"] = args.latency_ms
    fields["workers"] = args.workers
    fields["fanout"] = args.fanout
    fields["processes"] = args.processes
    fields["backend"] = args.backend
    fields["reps"] = args.reps
    completed = all(r["status"] == "completed" for rs in runs.values() for r in rs)
    lost = sum(
        r["lost_to_connections"] + r["connection_error_lines"] for rs in runs.values() for r in rs
    )
    fields["ok"] = (
        completed
        and lost == 0
        and (fields["large_wall_s"] or 1e9) < TARGET_LARGE_S
        and (fields["rss_ratio"] or 1e9) <= TARGET_RSS_RATIO
    )
    print(last_line("scale_memory", fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
