"""Running a session from the command line: in this process with a progress bar, or on the qcluster.

The progress bar goes to stderr when it is a terminal, never to stdout, so `--json` stays
parseable. This is the one place that picks the runner a command runs a session with.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError

from restore.cli.common import print_doc, print_summary
from restore.engine import Progress
from restore.models import RestoreSession


class ProgressBar:
    """One line on stderr, redrawn on each heartbeat; silent when stderr is not a terminal."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, doc: Progress) -> None:
        if not self.enabled:
            return
        total, done = doc.total, doc.done
        width = 30
        filled = int(width * done / total) if total else 0
        line = (
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
            f"{doc.current_type} c={doc.created} u={doc.updated} "
            f"f={doc.failed} {doc.throughput or 0:.1f}/s"
            + (f" eta {int(doc.eta_seconds)}s" if doc.eta_seconds else "")
            + (" THROTTLED" if doc.rate_limiter.throttled else "")
        )
        self.stream.write(line.ljust(110))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def run_in_foreground(session: RestoreSession, *, distributed: bool = False) -> dict[str, Any]:
    """Run (or resume) a session in this process with the parallel runner and a progress bar."""
    from restore.engine import SessionBusy, run_session

    bar = ProgressBar()
    try:
        return run_session(session.pk, distributed=distributed, on_progress=bar)
    except SessionBusy as exc:
        raise CommandError(str(exc)) from exc
    finally:
        bar.close()


def add_background_options(parser: Any) -> None:
    parser.add_argument(
        "--enqueue", action="store_true", help="hand the session to the qcluster workers"
    )
    parser.add_argument(
        "--distributed", action="store_true", help="split each level into chunk tasks"
    )


def run_or_enqueue(command: Any, session: RestoreSession, opts: dict[str, Any]) -> int:
    """Hand the session to the qcluster with --enqueue, else run it here to its end."""
    if opts.get("enqueue"):
        from restore.tasks import enqueue_session

        enqueue_session(session.pk, distributed=opts.get("distributed") or None)
        return print_doc(command, {"session_id": session.pk, "status": "queued"}, opts)
    summary = run_in_foreground(session, distributed=bool(opts.get("distributed")))
    return print_summary(command, summary, opts["as_json"])
