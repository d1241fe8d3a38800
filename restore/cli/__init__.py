"""Sub-commands of `manage.py restore`, one module per purpose, listed in one table.

`COMMANDS = {name: (add_arguments, handle)}`: `add_arguments(parser)` fills the sub-parser and
`handle(command, options) -> int` runs it (the exit code). The modules reach the engine only
through its public module, `restore.engine`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from restore.cli import control, dlq, drift, rollback, start, watch

AddArguments = Callable[[Any], None]
Handler = Callable[[Any, dict[str, Any]], int]

COMMANDS: dict[str, tuple[AddArguments, Handler]] = {
    "single": (start.add_single, start.handle_single),
    "all": (start.add_all, start.handle_all),
    "rollback": (rollback.add_rollback, rollback.handle_rollback),
    "bulk": (start.add_bulk, start.handle_bulk),
    "resume": (control.add_resume, control.handle_resume),
    "status": (watch.add_status, watch.handle_status),
    "cancel": (control.add_cancel, control.handle_cancel),
    "dlq": (dlq.add_dlq, dlq.handle_dlq),
    "drift": (drift.add_drift, drift.handle_drift),
}
