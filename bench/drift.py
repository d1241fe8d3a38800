"""Drift since a backup: requests per item and wall time, read in pages vs one GET per item.

A generated instance (--items, default 10,000) is extracted the way lookervault extracts it, then
served with --latency-ms per request (default 20). Two drift checks of the backup against that
instance, both finding every item unchanged:

- `per_item`: what reading the destination item by item costs (one GET per backup item, with
  --workers threads, as a restore's unchanged detection reads it);
- `paged`: the drift check (`identity.drift.check_drift`): each type read in pages with `fields`,
  one GET only for an object whose page lacks a field its backup item holds.

Requests are counted by the emulator (`/_emulator/stats`). Ends with

    drift items=N per_item_rpi=... per_item_s=... paged_rpi=... paged_s=... writes=0 ok=1
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    emulator,
    generate_state,
    last_line,
    log,
    scenario_parser,
    setup_django,
)


def requests(emu: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for r in emu.stats()["requests"]:
        if not r["route"].endswith(("/login", "/logout")):
            counts[r["method"]] += r["count"]
    return counts


def per_item(reader: Any, client: Any, workers: int) -> Counter[str]:
    """Every backup item read alone (the way before pages) and compared."""
    from restore.engine.backup.reader import Selection
    from restore.engine.core.content_types import API_PATHS
    from restore.engine.identity.drift import DRIFT_TYPES, compare_item

    def one(item: Any) -> str:
        current = client.get_or_none(f"{API_PATHS[item.content_type]}/{item.id}")
        return compare_item(item.content_type, item.id, item.content, current, True).kind

    items = list(reader.iter_items(Selection(content_types=list(DRIFT_TYPES))))
    with ThreadPoolExecutor(workers) as pool:
        return Counter(pool.map(one, items))


def paged(reader: Any, client: Any) -> Counter[str]:
    from restore.engine.identity.drift import check_drift

    report = check_drift(reader, client)
    return Counter(f.kind for f in report.findings)


def main(argv: list[str] | None = None) -> int:
    parser = scenario_parser(__doc__, items=10_000, reps=1)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args(argv)
    data = setup_django("drift", keep=args.keep)
    from looker_emulator.extract import extract
    from restore.engine.backup.reader import open_backup
    from restore.engine.looker.client import LookerClient, LookerSettings

    state = generate_state(data / "source.json", args.items, args.seed)
    fields: dict[str, Any] = {}
    with emulator(state) as emu:
        path = data / "backup.db"
        extract(emu.url, path, client_id=emu.client_id, client_secret=emu.client_secret)
        emu.set_faults(latency_ms=args.latency_ms)
        settings = LookerSettings(emu.url, emu.client_id, emu.client_secret)
        client = LookerClient(settings, in_flight=args.workers)
        client.login()
        with open_backup(path) as reader:
            fields["items"] = reader.count()
            for label, check in (
                ("per_item", lambda: per_item(reader, client, args.workers)),
                ("paged", lambda: paged(reader, client)),
            ):
                before, started = requests(emu), time.monotonic()
                kinds = check()
                took, sent = time.monotonic() - started, requests(emu) - before
                log(f"{label}: {dict(kinds)} in {took:.1f}s, requests {dict(sent)}")
                fields[f"{label}_rpi"] = round(sum(sent.values()) / fields["items"], 3)
                fields[f"{label}_s"] = round(took, 1)
                fields[f"{label}_changed"] = kinds["changed"] + kinds["deleted"]
                fields["writes"] = fields.get("writes", 0) + sum(
                    n for m, n in sent.items() if m != "GET"
                )
    fields["latency_ms"] = args.latency_ms
    fields["workers"] = args.workers
    fields["ok"] = fields["writes"] == 0 and fields["paged_changed"] == 0
    print(last_line("drift", fields))
    return 0 if fields["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
