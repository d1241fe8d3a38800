"""Run the emulator inside the test process (a background thread) or as a subprocess.

    from looker_emulator.testing import running_emulator

    with running_emulator(items=200, seed=1, latency_ms=5) as emu:
        emu.url            # "http://127.0.0.1:PORT" (base URL for looker_sdk's base_url)
        emu.client_id      # API credentials ("lookervault" / "emulator-secret" unless given)
        emu.client_secret
        emu.stats()        # GET /_emulator/stats as a dict (counts by method/route/status, creates by
                           # type, injected faults, spec_violations, state_counts)
        emu.export()       # the whole state document (the format of `generate --out`)
        emu.set_faults(rate_limit=50, add_rules=[{"method": "POST", "path": "*/dashboards", "status": 503}])
        emu.reset(state=False, faults=False)   # reset stats (and optionally state / faults)
        emu.import_state(doc)

`state` may be None (the empty migration target: system folders, API user, LookML models), a state
document (dict), a path to a state JSON file, or a `State`. `items`/`seed` generate one instead. Fault
keyword arguments are those of `looker_emulator.faults.Faults` (latency_ms, jitter_ms, rate_limit,
error_rate, reset_rate, reset_after_rate, slow_rate, slow_ms, hang_rate, hang_s, seed, rules,
shuffle_lists, shuffle_seed);
`set_faults` also takes add_rules, throttle_seconds and clear. `strict=False` is the --lenient mode.
The server binds an ephemeral loopback port; every call above is thread-safe (it runs on the server's
loop). `emulator_process(*cli_args, state_file=None)` runs `serve` as a subprocess and yields its URL.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from looker_emulator.faults import Faults, Rule
from looker_emulator.generate import generate
from looker_emulator.server import Emulator, drop_connections, start_server
from looker_emulator.state import State, load_state_file

DEFAULT_CLIENT_ID = "lookervault"
DEFAULT_CLIENT_SECRET = "emulator-secret"

T = TypeVar("T")


def make_state(state: Any = None, *, items: int | None = None, seed: int = 0) -> State:
    """A State from None / document / path / State, or generated from items + seed."""
    if items is not None:
        return State.from_document(generate(items, seed))
    if state is None:
        return State.from_document(generate(0, seed))
    if isinstance(state, State):
        return state
    if isinstance(state, dict):
        return State.from_document(state)
    return load_state_file(Path(state))


class RunningEmulator:
    """Handle on an emulator serving from a background thread. See the module docstring."""

    def __init__(self, emu: Emulator, loop: asyncio.AbstractEventLoop, url: str) -> None:
        self._emu = emu
        self._loop = loop
        self.url = url
        self.client_id = emu.api.client_id
        self.client_secret = emu.api.client_secret

    def call(self, fn: Callable[[Emulator], T], timeout: float = 30.0) -> T:
        """Run fn(emulator) on the server's loop and return its result (thread-safe)."""

        async def run() -> T:
            return fn(self._emu)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stats(self) -> dict[str, Any]:
        return self.call(lambda e: e.stats_document())

    def export(self) -> dict[str, Any]:
        # A JSON round trip gives the caller a private copy, exactly what GET /_emulator/export returns.
        encoded = self.call(lambda e: msgspec.json.encode(e.state.export(copy_records=False)))
        return msgspec.json.decode(encoded)

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        return self.call(lambda e: (e.injector.update(changes), e.injector.faults.public())[1])

    def reset(self, *, state: bool = False, faults: bool = False) -> dict[str, Any]:
        return self.call(lambda e: e.reset(state=state, faults=faults))

    def import_state(self, doc: dict[str, Any]) -> None:
        new = State.from_document(doc)
        self.call(lambda e: e.import_state(new))


@contextlib.contextmanager
def running_emulator(
    state: Any = None,
    *,
    items: int | None = None,
    seed: int = 0,
    strict: bool = True,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    **faults: Any,
) -> Iterator[RunningEmulator]:
    """Start an emulator on 127.0.0.1:<free port> in a daemon thread; stop it on exit."""
    rules = [r if isinstance(r, Rule) else Rule(**r) for r in faults.pop("rules", [])]
    fault_cfg = Faults(**faults, rules=rules)
    emu = Emulator(
        make_state(state, items=items, seed=seed),
        faults=fault_cfg,
        strict=strict,
        client_id=client_id,
        client_secret=client_secret,
    )
    with _serving_thread(emu) as loop:
        yield RunningEmulator(emu, loop, emu.api.base_url)


@contextlib.contextmanager
def _serving_thread(emu: Emulator) -> Iterator[asyncio.AbstractEventLoop]:
    """Serve emu on 127.0.0.1:<free port> from a daemon thread's event loop; stop when done."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        server = await start_server(emu, "127.0.0.1", 0)
        holder["server"] = server
        holder["stop"] = asyncio.Event()
        ready.set()
        await holder["stop"].wait()
        server.close()
        drop_connections(emu)
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()
        await asyncio.sleep(0)

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surfaced to the caller below
            holder["error"] = exc
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="looker-emulator", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("emulator did not start within 30 s")
    if "error" in holder:
        raise RuntimeError(f"emulator failed to start: {holder['error']!r}")
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(10)


@contextlib.contextmanager
def emulator_process(
    *args: str, state_file: str | Path | None = None, timeout_s: float = 60.0
) -> Iterator[str]:
    """Start `python -m looker_emulator serve --port 0 ...` and yield its base URL.

    The process prints `looker-emulator listening on URL` once ready; extra CLI flags go in args.
    Its output is drained in the background; the process is terminated on exit.
    """
    with serve_subprocess(*args, state_file=state_file, timeout_s=timeout_s) as (_proc, url, _out):
        yield url


@contextlib.contextmanager
def serve_subprocess(
    *args: str, state_file: str | Path | None = None, timeout_s: float = 60.0
) -> Iterator[tuple[subprocess.Popen[str], str, collections.deque[str]]]:
    """`emulator_process` for callers that also need the process (its PID, for CPU and memory)
    and its last 200 lines of output."""
    cmd = [sys.executable, "-m", "looker_emulator", "serve", "--port=0", *args]
    if state_file is not None:
        cmd += [f"--state={state_file}"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=str(Path(__file__).resolve().parent.parent),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: collections.deque[str] = collections.deque(maxlen=200)
    found: dict[str, str] = {}
    ready = threading.Event()

    def drain() -> None:
        # Read the output for the process' whole life: an undrained pipe would block it (--access-log).
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "listening on " in line and not ready.is_set():
                found["url"] = line.rsplit("listening on ", 1)[1].strip()
                ready.set()
        ready.set()

    threading.Thread(target=drain, name="looker-emulator-output", daemon=True).start()
    try:
        ready.wait(timeout_s)
        url = found.get("url")
        if url is None:
            raise RuntimeError("emulator process did not start:\n" + "".join(lines))
        with urllib.request.urlopen(f"{url}/_emulator/health", timeout=10) as resp:
            resp.read()
        yield proc, url, lines
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
