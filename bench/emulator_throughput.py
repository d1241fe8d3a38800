"""How many simple requests per second the emulator serves at zero latency.

Starts `python -m looker_emulator serve --port 0` as a subprocess (so client and server don't share a
GIL), logs in, then hammers it with keep-alive connections from client threads for a fixed time.
The last line is stable and parseable:

    emulator_throughput requests_per_s=1234.5 requests=N errors=E seconds=S connections=C path=P
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from looker_emulator.testing import (  # noqa: E402
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    emulator_process,
)


def _login(host: str, port: int) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    body = urllib.parse.urlencode(
        {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    )
    conn.request(
        "POST", "/api/4.0/login", body, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    resp = conn.getresponse()
    token = json.loads(resp.read())["access_token"]
    conn.close()
    return token


def run(
    url: str, seconds: float, connections: int, path: str, write: bool = False
) -> tuple[int, int, float]:
    parsed = urllib.parse.urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    headers = {"Authorization": f"Bearer {_login(host, port)}"}
    counts = [0] * connections
    errors = [0] * connections
    stop = time.monotonic() + seconds

    body = json.dumps({"model": "thelook", "view": "products", "fields": ["products.brand"]})
    post_headers = {**headers, "Content-Type": "application/json"}

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        while time.monotonic() < stop:
            if write:
                conn.request("POST", "/api/4.0/queries", body, headers=post_headers)
            else:
                conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                counts[i] += 1
            else:
                errors[i] += 1
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    return sum(counts), sum(errors), time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--items", type=int, default=1000, help="size of the served instance")
    parser.add_argument("--path", default="/api/4.0/folders/1?fields=id,name,parent_id")
    parser.add_argument("--write", action="store_true", help="POST /queries instead of GET --path")
    args = parser.parse_args(argv)
    with emulator_process(f"--items={args.items}", "--seed=1") as url:
        ok, errors, elapsed = run(url, args.seconds, args.connections, args.path, args.write)
    rps = ok / elapsed if elapsed else 0.0
    print(
        f"emulator_throughput requests_per_s={rps:.1f} requests={ok} errors={errors} "
        f"seconds={elapsed:.2f} connections={args.connections} "
        f"path={'POST:/api/4.0/queries' if args.write else args.path}"
    )
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
