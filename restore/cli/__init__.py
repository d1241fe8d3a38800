"""Sub-commands of `manage.py restore`, one module per area.

Each module listed in COMMAND_MODULES exposes `COMMANDS = {name: (add_arguments, handle)}` where
`add_arguments(parser)` fills the sub-parser and `handle(command, options) -> int` runs it (the exit
code). Modules not present yet are skipped, so areas land independently.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

COMMAND_MODULES = (
    "restore.cli.engine_commands",  # single, all, rollback (issue 4)
    "restore.cli.execution_commands",  # bulk, resume, status, dlq (issue 5)
    "restore.cli.drift_commands",  # drift: what changed in a destination since a backup
)

Handler = Callable[[Any, dict[str, Any]], int]


def load_commands() -> dict[str, tuple[Callable[[Any], None], Handler]]:
    commands: dict[str, tuple[Callable[[Any], None], Handler]] = {}
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        commands.update(importlib.import_module(name).COMMANDS)
    return commands
