"""Shared set-up of the restore benchmarks, so every scenario script measures the same way.

- `setup_django(prefix)`: a throwaway data dir (its own SQLite DB, migrated), DEBUG off;
- `emulator(...)`: `python -m looker_emulator serve --port 0` as a subprocess (its CPU and memory
  are measured apart from the restore's), driven through its control API (`/_emulator/...`);
- `generate_state`, `make_backup`: a generated source instance, extracted into a lookervault backup;
- `new_destination`, `new_session`, `run_measured` / `run_restore`: a session into an empty emulator,
  run in this process with the product's parallel runner, timed: wall time, this process' CPU, the
  emulator's CPU, and the emulator's request counts per restore level (see `MeasuredRunner`);
- `/proc` readers (`proc_cpu_seconds`, `proc_status_kb`, `descendants`), `median`, `last_line`.

Every script prints a stable last line `name key=value key=value ...` built by `last_line`.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import contextlib
import functools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from looker_emulator.testing import (  # noqa: E402
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    serve_subprocess,
)
from restore.engine.core.config import RestoreConfig  # noqa: E402  (pydantic only: no Django set-up)

RouteKey = tuple[str, str, str]  # (method, route template, status) as /_emulator/stats counts them
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEFAULT_FANOUT = RestoreConfig().fanout  # the product's default, compared as it is
SESSION_LEVEL = "session"  # requests outside every level: login, GET /versions
SECOND_PASS = "second_pass"  # deferred references (users' groups and roles), after the last level


# -- formatting -----------------------------------------------------------------------------------
def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that exist (None when there are none)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def fmt(value: Any) -> str:
    """One value of a last line: no spaces, fixed-ish precision, `none` for missing."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        if value == 0 or abs(value) >= 100:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.4f}"
    return str(value).replace(" ", "_")


def last_line(name: str, fields: dict[str, Any]) -> str:
    """`name k=v k=v ...`: the stable, parseable last line of every benchmark."""
    return " ".join([name, *(f"{k}={fmt(v)}" for k, v in fields.items())])


def log(message: str) -> None:
    """Progress on stderr (stdout is for figures), timestamped."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def scenario_parser(doc: str, *, items: int, reps: int = 3) -> argparse.ArgumentParser:
    """A restore scenario's parser: --items (the source instance's size), --seed and the common
    arguments; the script adds its own and parses."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--items", type=int, default=items, help="size of the source instance")
    parser.add_argument("--seed", type=int, default=1)
    add_common_args(parser, reps=reps)
    return parser


def add_common_args(parser: Any, *, reps: int = 3, workers: int = 8) -> None:
    parser.add_argument("--reps", type=int, default=reps, help="repetitions (medians reported)")
    parser.add_argument("--workers", type=int, default=workers, help="restore workers")
    parser.add_argument(
        "--fanout",
        type=int,
        default=DEFAULT_FANOUT,
        help="sub-requests per worker (RestoreConfig.fanout)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the throwaway data dir")


# -- /proc ----------------------------------------------------------------------------------------
def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (all its threads), from /proc/PID/stat."""
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / CLK_TCK  # fields 14 and 15


def self_cpu_seconds() -> float:
    """CPU of this process (every thread): the restore when it runs in-process."""
    return time.process_time()


def proc_status_kb(pid: int, key: str = "VmHWM") -> int | None:
    """A `kB` field of /proc/PID/status (VmHWM = peak RSS, VmRSS = current), None if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def descendants(pid: int) -> list[int]:
    """All live descendants of pid (children of children included), from /proc/*/stat."""
    parents: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError, ValueError):
            continue
        parents[ppid].append(int(entry.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out.extend(kids)
        todo.extend(kids)
    return out


# -- Django ---------------------------------------------------------------------------------------
def exit_on_signals() -> None:
    """SIGTERM and SIGHUP (run_all's timeout, a closed terminal) unwind like Ctrl-C: every `with`
    block stops its emulator or qcluster (its own process group) instead of leaving it running."""

    def unwind(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, unwind)


POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"


def setup_django(prefix: str, *, keep: bool = False, backend: str = "sqlite") -> Path:
    """A throwaway data dir with its own migrated database; removed at exit unless keep.

    backend "sqlite" (the embedded default: SQLite + the ORM broker) or "postgres+redis" (the
    deployment at scale: a throwaway PostgreSQL database on 127.0.0.1:5432 and the Redis broker
    on 127.0.0.1:6379, under a cluster name of this run's own).
    """
    exit_on_signals()
    data = Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-"))
    os.environ["LOOKERVAULT_DATA_DIR"] = str(data)
    os.environ["DJANGO_SETTINGS_MODULE"] = "lookervault_web.settings"
    os.environ["DEBUG"] = "false"  # DEBUG keeps every SQL query in memory: not what we measure
    # looker-sdk logs every request at INFO: readable output (costs ~2% CPU; LOG_LEVEL=INFO to keep).
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    for var in ("DATABASE_URL", "REDIS_URL", "LOOKERVAULT_DISTRIBUTED"):
        os.environ.pop(var, None)
    if backend == "postgres+redis":
        name = f"bench_{prefix.replace('-', '_')}_{os.getpid()}"
        _throwaway_postgres(name, keep=keep)
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
        os.environ["REDIS_URL"] = REDIS_URL
        os.environ["Q_CLUSTER_NAME"] = name
    elif backend != "sqlite":
        raise SystemExit(f"unknown backend {backend!r}: sqlite or postgres+redis")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if keep:
        log(f"data dir kept: {data}")
    else:
        atexit.register(shutil.rmtree, data, ignore_errors=True)
    return data


def _throwaway_postgres(name: str, *, keep: bool) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    if keep:
        log(f"database kept: {name}")
    else:
        atexit.register(drop)


def backend_env() -> dict[str, str]:
    """What a subprocess of the app needs to use this run's database and broker."""
    keys = ("DATABASE_URL", "REDIS_URL", "Q_CLUSTER_NAME")
    return {k: os.environ[k] for k in keys if k in os.environ}


# -- the emulator ---------------------------------------------------------------------------------
class EmulatorProcess:
    """A `looker_emulator serve` subprocess and its control API."""

    def __init__(self, proc: subprocess.Popen[str], url: str, output: collections.deque[str]):
        self.proc = proc
        self.url = url
        self.output = output
        self.client_id = DEFAULT_CLIENT_ID
        self.client_secret = DEFAULT_CLIENT_SECRET

    @property
    def pid(self) -> int:
        return self.proc.pid

    def control(self, method: str, what: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_emulator/{what}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=120) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "stats")

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        return self.control("POST", "faults", changes)

    def reset(self, *, state: bool = False, faults: bool = False) -> dict[str, Any]:
        query = "&".join(k for k, on in (("state=1", state), ("faults=1", faults)) if on)
        return self.control("POST", "reset" + (f"?{query}" if query else ""), {})

    def export(self) -> dict[str, Any]:
        return self.control("GET", "export")

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def peak_rss_kb(self) -> int | None:
        return proc_status_kb(self.pid, "VmHWM")


def _flags(options: dict[str, Any]) -> list[str]:
    """`latency_ms=50` → `--latency-ms=50` (None and False are left out, True is a bare flag);
    `--opt=value`, so a value beginning with "-" is never read as an option."""
    out: list[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        out.append(flag if value is True else f"{flag}={value}")
    return out


@contextlib.contextmanager
def emulator(
    state_file: Path | None = None, *, timeout_s: float = 180.0, **options: Any
) -> Iterator[EmulatorProcess]:
    """`python -m looker_emulator serve --port 0 [--state F] [--latency-ms ...]` on 127.0.0.1.

    No state file and no `items` option: the empty migration target (`--items 0`).
    """
    args = ["--host=127.0.0.1", *_flags(options)]
    with serve_subprocess(*args, state_file=state_file, timeout_s=timeout_s) as (proc, url, out):
        yield EmulatorProcess(proc, url, out)


def generate_state(out: Path, items: int, seed: int = 1) -> Path:
    """`python -m looker_emulator generate` (fast even at 50,000 items; a separate process)."""
    subprocess.run(
        [sys.executable, "-m", "looker_emulator", "generate"]
        + [f"--items={items}", f"--seed={seed}", f"--out={out}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


def make_backup(data: Path, items: int, seed: int = 1, *, workers: int = 8) -> Any:
    """Generate a source instance of ~items, serve it, extract it; a registered, verified Backup."""
    from looker_emulator.extract import extract
    from restore.models import Backup

    started = time.monotonic()
    state = generate_state(data / f"source-{items}-{seed}.json", items, seed)
    path = data / f"backup-{items}-{seed}.db"
    with emulator(state) as src:
        counts = extract(
            src.url,
            path,
            client_id=src.client_id,
            client_secret=src.client_secret,
            workers=workers,
            shape="raw",
        )
    state.unlink(missing_ok=True)
    backup = Backup.register(path)
    if not backup.verify():
        raise RuntimeError(f"backup {path} failed verification: {backup.verification_error}")
    log(f"backup of {sum(counts.values())} items in {time.monotonic() - started:.1f}s: {path}")
    return backup


def new_destination(emu: EmulatorProcess) -> Any:
    """A fresh Destination row (so no ID mapping from an earlier run applies)."""
    from restore.models import Destination

    dest = Destination(
        name=f"emu-{uuid.uuid4().hex[:10]}", base_url=emu.url, client_id=emu.client_id
    )
    dest.set_client_secret(emu.client_secret)
    dest.save()
    return dest


def new_session(backup: Any, dest: Any, **config: Any) -> Any:
    """A pending session; the rate limiter is off unless `rate_limit_per_second` is given."""
    from restore.engine.core.config import RestoreConfig
    from restore.engine.run.session import start_session

    config.setdefault("rate_limit_per_second", None)
    return start_session(backup, dest, RestoreConfig(**config))


# -- a measured run -------------------------------------------------------------------------------
def route_counts(stats: dict[str, Any]) -> Counter[RouteKey]:
    return Counter(
        {(r["method"], r["route"], str(r["status"])): int(r["count"]) for r in stats["requests"]}
    )


@dataclass
class LevelStats:
    """One restore level (content type): its wall time and the requests the emulator saw in it."""

    slug: str
    seconds: float = 0.0
    requests: Counter[RouteKey] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.requests.values())


@dataclass
class RunResult:
    session_id: int
    status: str
    wall_s: float
    items: int
    failed: int
    summary: dict[str, Any]
    restore_cpu_s: float
    emulator_cpu_s: float
    requests: Counter[RouteKey]
    levels: dict[str, LevelStats]

    @property
    def items_per_s(self) -> float:
        return self.items / self.wall_s if self.wall_s else 0.0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def requests_per_item(self) -> float:
        return self.total_requests / self.items if self.items else 0.0

    def count_status(self, status: str) -> int:
        return sum(n for (_, _, s), n in self.requests.items() if s == status)

    def items_of(self, slug: str) -> int:
        return sum((self.summary.get("by_type") or {}).get(slug, {}).values())

    def per_type(self) -> dict[str, float]:
        """Requests per item of each restored type (its level's requests / its items)."""
        out = {}
        for slug, level in self.levels.items():
            n = self.items if slug == SECOND_PASS else self.items_of(slug)
            if n and slug != SESSION_LEVEL:
                out[slug] = level.total / n
        return out

    def describe(self) -> str:
        return (
            f"session {self.session_id} {self.status}: {self.items} items ({self.failed} failed) "
            f"in {self.wall_s:.1f}s = {self.items_per_s:.1f} items/s; "
            f"{self.total_requests} requests ({self.requests_per_item:.2f}/item, "
            f"{self.count_status('429')} x 429); CPU restore {self.restore_cpu_s:.1f}s, "
            f"emulator {self.emulator_cpu_s:.1f}s"
        )


@functools.cache
def _make_runner_class() -> type:
    from restore.engine.run.runner import SessionRunner

    # The hooks below override these (private) methods: fail loudly if they are renamed, rather
    # than silently charging every request to `session`.
    for hook in ("_run_level", "_run_again"):
        if not callable(getattr(SessionRunner, hook, None)):
            raise RuntimeError(f"SessionRunner.{hook} is gone: update bench/common.py")

    class MeasuredRunner(SessionRunner):
        """The product's SessionRunner, with the emulator's counters read at each level boundary.

        Levels run one after another (a level starts when the previous one is finished), so the
        requests between two boundaries are exactly that type's: a look's POST /queries is the
        look's, a dashboard's owner lookup is the dashboard's. `second_pass` is the deferred
        references (users' groups and roles); everything else (login, GET /versions) is `session`.
        """

        def __init__(self, session_id: int, *, emu: EmulatorProcess, **kwargs: Any) -> None:
            super().__init__(session_id, **kwargs)
            self.emu = emu
            self.levels: dict[str, LevelStats] = {}

        def _measure(self, slug: str, run: Callable[[], None]) -> None:
            before = route_counts(self.emu.stats())
            started = time.perf_counter()
            try:
                run()
            finally:
                level = self.levels.setdefault(slug, LevelStats(slug))
                level.seconds += time.perf_counter() - started
                level.requests.update(route_counts(self.emu.stats()) - before)

        def _run_level(self, ct: Any, items: Any, done: set[str], workers: int) -> None:
            parent = super()._run_level
            self._measure(ct.slug, lambda: parent(ct, items, done, workers))

        def _run_again(self, items: Any) -> None:
            parent = super()._run_again
            self._measure(SECOND_PASS, lambda: parent(items))

    return MeasuredRunner


def run_measured(session_id: int, emu: EmulatorProcess, *, per_level: bool = True) -> RunResult:
    """Run a pending session here with the parallel runner; time it and count its requests.

    per_level=False runs the plain SessionRunner (no stats calls at level boundaries: for runs so
    short that a few control requests would show).
    """
    from restore.engine.kinds import kind_for
    from restore.engine.run.runner import SessionRunner

    emu.reset()  # stats only
    runner = (
        _make_runner_class()(session_id, emu=emu, kind_for=kind_for)
        if per_level
        else SessionRunner(session_id, kind_for=kind_for)
    )
    cpu0, emu_cpu0, t0 = self_cpu_seconds(), emu.cpu_seconds(), time.perf_counter()
    summary = runner.run()
    wall = time.perf_counter() - t0
    cpu, emu_cpu = self_cpu_seconds() - cpu0, emu.cpu_seconds() - emu_cpu0
    requests = route_counts(emu.stats())
    levels = dict(getattr(runner, "levels", {}))
    outside = requests - sum((lv.requests for lv in levels.values()), Counter())
    if outside:
        levels[SESSION_LEVEL] = LevelStats(SESSION_LEVEL, requests=outside)
    return RunResult(
        session_id=session_id,
        status=str(summary.get("status")),
        wall_s=wall,
        items=sum(summary.get(k, 0) for k in ("created", "updated", "unchanged", "skipped"))
        + summary.get("failed", 0),
        failed=summary.get("failed", 0),
        summary=summary,
        restore_cpu_s=cpu,
        emulator_cpu_s=emu_cpu,
        requests=requests,
        levels=levels,
    )


def per_type_medians(runs: list[RunResult], prefix: str = "rpi_") -> dict[str, float | None]:
    """Median requests per item of each type over runs, keyed `rpi_<type>` in restore order."""
    slugs: list[str] = []
    for run in runs:
        slugs += [s for s in run.per_type() if s not in slugs]
    return {f"{prefix}{s}": median(r.per_type().get(s) for r in runs) for s in slugs}


def level_table(result: RunResult) -> str:
    """Per level: items, seconds, requests, requests/item (printed by the scripts, not parsed)."""
    lines = []
    for slug, level in result.levels.items():
        n = result.items_of(slug)
        rpi = f"{level.total / n:6.2f}/item" if n else "           "
        lines.append(
            f"  {slug:15} items={n:<6} s={level.seconds:7.2f} requests={level.total:<7} {rpi}"
        )
    return "\n".join(lines)


def run_restore(backup: Any, emu: EmulatorProcess, **config: Any) -> RunResult:
    """A whole-backup session into `emu` through a fresh destination, measured."""
    session = new_session(backup, new_destination(emu), **config)
    return run_measured(session.pk, emu)
