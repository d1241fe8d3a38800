"""The Looker client alone: CPU per request of the lean HTTP/1.1 exchange against urllib3's path.

One thread sends --requests GETs of a dashboard and PATCHes of its title to an emulator
subprocess (no latency, no limit), timed with `time.thread_time` (this thread's CPU only: the
emulator's work and the machine's other load stay out). The two paths alternate in rounds of
--batch requests through two clients of the same process, so both see the same moments of the
machine. Medians of the rounds' CPU per request; the last line is stable and parseable:

    client_cpu get_lean_ms=0.40 get_urllib3_ms=0.80 patch_lean_ms=0.30 patch_urllib3_ms=0.60
      get_ratio=0.50 patch_ratio=0.50 requests=2000        (one line)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import emulator, median, setup_django  # noqa: E402


def _rounds(clients: dict[str, object], call, total: int, batch: int) -> dict[str, float]:
    """ms of CPU per request of each client, the median of rounds of `batch`, alternating."""
    per: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(max(total // batch, 1)):
        for name, client in clients.items():
            started = time.thread_time()
            for _ in range(batch):
                call(client)
            per[name].append((time.thread_time() - started) * 1000 / batch)
    return {name: median(values) for name, values in per.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="per path and verb")
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    setup_django("client-cpu")
    from looker_emulator.testing import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from restore.engine.looker.client import LookerClient, LookerSettings

    with emulator(items=20) as emu:
        clients = {}
        for name in ("lean", "urllib3"):
            client = LookerClient(LookerSettings(emu.url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET))
            if name == "urllib3":
                client.transport._lean = None
            client.login()
            clients[name] = client
        dashboard = clients["lean"].get("/dashboards", {"fields": "id", "limit": 1})[0]["id"]
        path = f"/dashboards/{dashboard}"
        get = _rounds(clients, lambda c: c.get(path), args.requests, args.batch)
        patch = _rounds(
            clients, lambda c: c.patch(path, {"title": "bench"}), args.requests, args.batch
        )
    print(
        f"client_cpu get_lean_ms={get['lean']:.3f} get_urllib3_ms={get['urllib3']:.3f} "
        f"patch_lean_ms={patch['lean']:.3f} patch_urllib3_ms={patch['urllib3']:.3f} "
        f"get_ratio={get['lean'] / get['urllib3']:.2f} "
        f"patch_ratio={patch['lean'] / patch['urllib3']:.2f} requests={args.requests}"
    )


if __name__ == "__main__":
    main()
