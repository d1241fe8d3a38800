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

`--clusters N` (N > 1) runs the session distributed on N separate `manage.py qcluster` processes
against the same database and broker (with `--backend postgres+redis`: how a deployment that
outgrew one machine runs, one cluster per machine), each with `--cluster-workers` worker processes
(Q_WORKERS, default 4 as in the product) and the default pool. Peak RSS is then sampled per
cluster, and on PostgreSQL the connections are also counted per `application_name`: each cluster
names its connections `lookervault-qcluster <id> <budget>`, so every cluster's peak is printed
beside the budget it advertised (`peak_cluster_connections`, `cluster_budget`).
"""

from __future__ import annotations

import argparse
import contextlib
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
    peak_by_name: dict[str, int] = field(default_factory=dict)
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
            rows = cursor.fetchall()
        self.peak = max(self.peak, sum(int(n) for _, n in rows))
        for name, n in rows:
            self.peak_by_name[name] = max(int(n), self.peak_by_name.get(name, 0))

    def clusters(self) -> dict[str, tuple[int, int]]:
        """Per qcluster seen: (peak connections, the budget it advertised)."""
        out = {}
        for name, peak in self.peak_by_name.items():
            parts = (name or "").split()
            if len(parts) == 3 and parts[0] == "lookervault-qcluster" and parts[2].isdigit():
                out[parts[1]] = (peak, int(parts[2]))
        return out

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


def start_fitting_cluster(
    stack: contextlib.ExitStack, env: dict[str, str], path: Path, label: str
) -> Any:
    """A qcluster that passed its connection-budget check. PostgreSQL's max_connections is the
    server's, so clusters of other databases on a shared server count: while one refuses, wait
    and try again (at most 10 min), saying so. On SQLite there is no budget (and no line saying
    one): the cluster is used as soon as it runs."""
    from tests.procs import qcluster

    budgeted = env.get("DATABASE_URL", "").startswith("postgres")
    for _ in range(40):
        proc = stack.enter_context(qcluster(env, path))
        while (
            budgeted
            and proc.poll() is None
            and "connection budget:" not in path.read_text(errors="replace")
        ):
            time.sleep(0.2)
        if proc.poll() is None:
            return proc
        said = [line for line in path.read_text(errors="replace").splitlines() if "Error" in line]
        log(f"{label}: a qcluster refused to start, again in 15 s: {said[-1:]}")
        time.sleep(15)
    raise SystemExit(f"{label}: a qcluster kept refusing to start for 10 minutes")


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
    clusters: int = 1,
    cluster_workers: int = 4,
) -> dict[str, Any]:
    """One session of the whole backup on fresh qclusters; wall time, items, peak RSS."""
    from restore.models import RestoreSession
    from restore.tasks import enqueue_session
    from tests.procs import app_env

    distributed = processes > 1 or clusters > 1
    q_workers = processes + 1 if processes > 1 else 1
    if clusters > 1:
        q_workers = cluster_workers
    extra = {"LOOKERVAULT_DISTRIBUTED": "1"} if distributed else {}
    env = app_env(data, Q_WORKERS=str(q_workers), **extra, **backend_env())
    logs = [data / f"qcluster-{label}-{n + 1}.log" for n in range(clusters)]
    with emulator(latency_ms=latency_ms) as emu:
        session = new_session(backup, new_destination(emu), workers=workers, fanout=fanout)
        with contextlib.ExitStack() as stack:
            procs = [start_fitting_cluster(stack, env, path, label) for path in logs]
            for path in logs:
                said = path.read_text(errors="replace").splitlines()
                if said:
                    log(f"{label}: {said[0]}")
            samplers = [PeakSampler(proc.pid) for proc in procs]
            threads = [
                threading.Thread(target=s.run, name="rss-sampler", daemon=True) for s in samplers
            ]
            conns = ConnectionSampler()
            threads.append(threading.Thread(target=conns.run, name="pg-sampler", daemon=True))
            for thread in threads:
                thread.start()
            enqueue_session(session.pk, distributed=distributed)
            deadline = time.monotonic() + timeout_s
            status = ""
            while time.monotonic() < deadline:
                status = RestoreSession.objects.get(pk=session.pk).status
                if status in FINAL or any(proc.poll() is not None for proc in procs):
                    break
                time.sleep(1.0)
            else:
                log(f"{label}: not finished after {timeout_s:.0f}s: cancelling")
                RestoreSession.objects.get(pk=session.pk).request_cancel()
                time.sleep(5)
            for sampler in samplers:
                sampler.stop.set()
            conns.stop.set()
            for thread in threads:
                thread.join(10)
            for sampler in samplers:
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
    peaks = {pid: kb for sampler in samplers for pid, kb in sampler.peaks_kb.items()}
    log_text = "\n".join(path.read_text(errors="replace") for path in logs)
    for n, sampler in enumerate(samplers, 1):
        print(
            f"{label}: cluster {n} (qcluster pid {sampler.root}) peak RSS per process (MB): "
            + ", ".join(f"{pid}={kb / 1024:.1f}" for pid, kb in sorted(sampler.peaks_kb.items()))
        )
    by_cluster = conns.clusters()
    for cluster_id, (peak, budget) in sorted(by_cluster.items()):
        print(f"{label}: qcluster {cluster_id}: peak {peak} connections, budget {budget}")
    others = {n: c for n, c in conns.peak_by_name.items() if not n.startswith("lookervault-q")}
    if others:
        print(f"{label}: other connections (peak by application_name): {others}")
    restore_kb = peaks.get(worker_pid) if worker_pid is not None else None
    if distributed:  # the chunks ran in every worker process
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
        "peak_cluster_connections": max((p for p, _ in by_cluster.values()), default=None),
        "cluster_budget": max((b for _, b in by_cluster.values()), default=None),
        "over_budget": sum(1 for p, b in by_cluster.values() if p > b),
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
    parser.add_argument(
        "--clusters",
        type=int,
        default=1,
        help="separate qcluster processes (> 1: distributed session across them)",
    )
    parser.add_argument(
        "--cluster-workers",
        type=int,
        default=4,
        help="Q_WORKERS of each cluster with --clusters > 1 (the product's default: 4)",
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
                clusters=args.clusters,
                cluster_workers=args.cluster_workers,
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
        for key in ("peak_db_connections", "peak_cluster_connections", "cluster_budget"):
            peaks = [r[key] for r in runs[name] if r[key]]
            fields[f"{name}_{key}"] = max(peaks) if peaks else None  # none: SQLite
        fields[f"{name}_over_budget"] = max(r["over_budget"] for r in runs[name])
        fields[f"{name}_emulator_peak_rss_mb"] = median(
            r["emulator_peak_rss_mb"] for r in runs[name]
        )
    small_rss, large_rss = fields["small_restore_peak_rss_mb"], fields["large_restore_peak_rss_mb"]
    fields["rss_ratio"] = large_rss / small_rss if small_rss and large_rss else None
    fields["latency_ms"] = args.latency_ms
    fields["workers"] = args.workers
    fields["fanout"] = args.fanout
    fields["processes"] = args.processes
    fields["clusters"] = args.clusters
    if args.clusters > 1:
        fields["cluster_workers"] = args.cluster_workers
    fields["backend"] = args.backend
    fields["reps"] = args.reps
    completed = all(r["status"] == "completed" for rs in runs.values() for r in rs)
    lost = sum(
        r["lost_to_connections"] + r["connection_error_lines"] for rs in runs.values() for r in rs
    )
    fields["ok"] = (
        completed
        and lost == 0
        and all(r["over_budget"] == 0 for rs in runs.values() for r in rs)
        and (fields["large_wall_s"] or 1e9) < TARGET_LARGE_S
        and (fields["rss_ratio"] or 1e9) <= TARGET_RSS_RATIO
    )
    print(last_line("scale_memory", fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
