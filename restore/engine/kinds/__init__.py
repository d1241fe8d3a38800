"""The session kinds, and the one place that picks a session's kind (`kind_for`).

Each kind is one module offering a `SessionKind` (see `restore.engine.run.kind`): `restore.py`
(a plan, a restore, or the applying of a saved plan, `apply.py`), `rollback.py`, `retry.py` (DLQ
retries), `drift.py` (what changed in a destination since a backup; writes nothing). The runner
below never names a kind: it is handed `kind_for`, here, by `run_session` and `run_chunk`, which
the engine's public module offers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from restore.engine.kinds.drift import DriftKind
from restore.engine.kinds.restore import RestoreKind
from restore.engine.kinds.retry import RetryKind
from restore.engine.kinds.rollback import RollbackKind
from restore.engine.run.distributed import DistributedSessionRunner
from restore.engine.run.distributed import run_chunk as run_kind_chunk
from restore.engine.run.kind import SessionKind
from restore.engine.run.runner import SessionBusy, SessionRunner
from restore.models import RestoreSession


class UnknownSessionKind(SessionBusy):
    """A session no kind here knows how to run: refused, never run as a restore."""


KINDS: dict[str, Callable[[RestoreSession], SessionKind]] = {
    RestoreSession.Kind.RESTORE: RestoreKind,
    RestoreSession.Kind.ROLLBACK: RollbackKind,
    RestoreSession.Kind.RETRY: lambda session: RetryKind(session, kind_for),
    RestoreSession.Kind.DRIFT: DriftKind,
}


def kind_for(session: RestoreSession) -> SessionKind:
    """The kind that runs `session`, or UnknownSessionKind: what a session is decides how it runs."""
    make = KINDS.get(session.kind)
    if make is None:
        raise UnknownSessionKind(
            f"session {session.pk} is of unknown kind {session.kind!r}: not run"
        )
    return make(session)


def run_session(
    session_id: int, *, distributed: bool = False, chunk_size: int | None = None, **kw: Any
) -> dict[str, Any]:
    """Run or resume a session in this process with the parallel runner; `distributed`: as the
    coordinator of chunk tasks that any worker picks up."""
    if distributed:
        runner = DistributedSessionRunner(
            session_id, kind_for=kind_for, chunk_size=chunk_size, **kw
        )
        return runner.run()
    return SessionRunner(session_id, kind_for=kind_for, **kw).run()


def run_chunk(session_id: int, content_type: int, ids: list[str] | None, owner: str) -> int:
    """One chunk of one level of a distributed session (a chunk task)."""
    return run_kind_chunk(session_id, content_type, ids, owner, kind_for=kind_for)
