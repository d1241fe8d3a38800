"""`python -m looker_emulator serve|generate|extract|wreck` — the emulator's command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from looker_emulator.testing import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

if TYPE_CHECKING:
    from looker_emulator.server import Emulator


# The fault flags of `serve`, named as the fields of `looker_emulator.faults.Faults`.
FAULT_FLAGS = (
    "latency_ms",
    "jitter_ms",
    "rate_limit",
    "error_rate",
    "reset_rate",
    "reset_after_rate",
    "slow_rate",
    "slow_ms",
    "hang_rate",
    "hang_s",
)


def _serve(args: argparse.Namespace) -> int:
    from looker_emulator.server import NotLoopbackError, check_bind_host, run_forever

    try:
        check_bind_host(args.host, args.allow_non_loopback)
    except NotLoopbackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.monotonic()
    emu = _emulator(args)

    def ready(url: str) -> None:
        counts = emu.state.counts()
        print(
            f"looker-emulator: {sum(counts.values())} records loaded in "
            f"{time.monotonic() - started:.1f}s; client_id={args.client_id}",
            flush=True,
        )
        print(f"looker-emulator listening on {url}", flush=True)

    run_forever(
        emu, args.host, args.port, allow_non_loopback=args.allow_non_loopback, on_ready=ready
    )
    if args.save_state:
        from looker_emulator.state import write_state_file

        write_state_file(emu.state.export(copy_records=False), args.save_state)
        print(f"looker-emulator: state saved to {args.save_state}", flush=True)
    return 0


def _emulator(args: argparse.Namespace) -> Emulator:
    """The emulator `serve` runs: its state (--backup, --state or --items), faults and options."""
    from looker_emulator.faults import Faults
    from looker_emulator.server import Emulator
    from looker_emulator.testing import make_state

    if args.backup:
        from looker_emulator.from_backup import state_from_backup

        state = make_state(state_from_backup(args.backup))
    else:
        state = make_state(args.state, items=args.items, seed=args.seed or 0)
    faults = Faults(**{name: getattr(args, name) for name in FAULT_FLAGS}, seed=args.seed)
    emu = Emulator(
        state,
        faults=faults,
        strict=not args.lenient,
        client_id=args.client_id,
        client_secret=args.client_secret,
    )
    emu.allow_remote_control = args.allow_remote_control
    if args.access_log:
        emu.access_log = lambda line: print(line, flush=True)
    return emu


def _generate(args: argparse.Namespace) -> int:
    from looker_emulator.generate import generate
    from looker_emulator.state import write_state_file

    started = time.monotonic()
    doc = generate(args.items, args.seed)
    write_state_file(doc, args.out)
    counts = {t: len(rows) for t, rows in doc["tables"].items()}
    print(
        f"generated {sum(counts.values())} records ({args.items} items requested) in "
        f"{time.monotonic() - started:.1f}s -> {args.out}"
    )
    return 0


def _from_backup(args: argparse.Namespace) -> int:
    from looker_emulator.from_backup import state_from_backup
    from looker_emulator.state import State, write_state_file

    doc = state_from_backup(args.backup)
    State.from_document(doc)  # loads: fail here rather than at serve time
    write_state_file(doc, args.out)
    counts = {t: len(rows) for t, rows in doc["tables"].items() if rows}
    print(f"state from {args.backup}: {counts} -> {args.out}")
    return 0


def _routes(args: argparse.Namespace) -> int:
    from looker_emulator.resources import Api
    from looker_emulator.spec import load_spec
    from looker_emulator.state import State

    spec = load_spec()
    api = Api(spec, State())
    served = [r for r in spec.routes if api.implemented(r.operation_id)]
    for r in sorted(served, key=lambda r: (r.template, r.method)):
        print(f"{r.method:6} /api/4.0{r.template}  {r.operation_id}")
    print(
        f"{len(served)} of {len(spec.routes)} operations of the spec ({spec.version}) are emulated"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m looker_emulator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the Looker API 4.0 emulator")
    _serve_flags(serve)
    _fault_flags(serve)
    _server_options(serve)
    serve.set_defaults(func=_serve)

    gen = sub.add_parser("generate", help="write a synthetic instance as a state JSON file")
    gen.add_argument(
        "--items", type=int, required=True, help="about how many content items (0 = empty target)"
    )
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", required=True)
    gen.set_defaults(func=_generate)

    conv = sub.add_parser("from-backup", help="write a state JSON file from a lookervault backup")
    conv.add_argument("--backup", required=True)
    conv.add_argument("--out", required=True)
    conv.set_defaults(func=_from_backup)

    routes = sub.add_parser("routes", help="list the spec operations the emulator serves")
    routes.set_defaults(func=_routes)

    sub.add_parser(
        "extract", help="back up a running instance to a lookervault SQLite file", add_help=False
    )
    sub.add_parser(
        "wreck", help="delete/trash/modify a random fraction of a running instance", add_help=False
    )
    return parser


def _serve_flags(serve: argparse.ArgumentParser) -> None:
    """Where `serve` listens, and what it serves."""
    serve.add_argument("--port", type=int, default=19999, help="TCP port (0 = any free port)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="bind address (loopback only by default)"
    )
    serve.add_argument(
        "--allow-non-loopback", action="store_true", help="allow binding a non-loopback address"
    )
    serve.add_argument(
        "--allow-remote-control", action="store_true", help="let non-loopback peers use /_emulator/"
    )
    serve.add_argument(
        "--state", help="state JSON file to load (generate --out / GET /_emulator/export)"
    )
    serve.add_argument("--backup", help="serve the content of a lookervault backup (.db)")
    serve.add_argument(
        "--items", type=int, help="generate an instance of about N items instead of --state"
    )


def _fault_flags(serve: argparse.ArgumentParser) -> None:
    """`serve`'s faults (FAULT_FLAGS): latency, rate limit, errors, dropped, slow and hung requests."""
    serve.add_argument("--latency-ms", type=float, default=0.0)
    serve.add_argument("--jitter-ms", type=float, default=0.0)
    serve.add_argument(
        "--rate-limit", type=float, default=0.0, help="requests/s before answering 429 (0 = off)"
    )
    serve.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of requests answered 5xx"
    )
    serve.add_argument(
        "--reset-rate", type=float, default=0.0, help="fraction of connections dropped"
    )
    serve.add_argument(
        "--reset-after-rate",
        type=float,
        default=0.0,
        help="fraction of requests processed, then dropped unanswered (lost responses)",
    )
    serve.add_argument(
        "--slow-rate", type=float, default=0.0, help="fraction of requests delayed by --slow-ms"
    )
    serve.add_argument("--slow-ms", type=float, default=2000.0)
    serve.add_argument(
        "--hang-rate", type=float, default=0.0, help="fraction of requests never answered"
    )
    serve.add_argument("--hang-s", type=float, default=3600.0)


def _server_options(serve: argparse.ArgumentParser) -> None:
    """`serve`'s seed, credentials, strictness, access log and state saving."""
    serve.add_argument(
        "--seed", type=int, default=None, help="seed for faults (and --items generation)"
    )
    serve.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    serve.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    serve.add_argument(
        "--lenient", action="store_true", help="ignore read-only/unknown fields instead of 422"
    )
    serve.add_argument("--access-log", action="store_true", help="print one line per API request")
    serve.add_argument("--save-state", help="write the state to this file on SIGINT/SIGTERM")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # extract and wreck are separate modules with their own parsers; imported only when used.
    if argv and argv[0] == "extract":
        from looker_emulator.extract import main as extract_main

        return int(extract_main(argv[1:]) or 0)
    if argv and argv[0] == "wreck":
        from looker_emulator.wreck import main as wreck_main

        return int(wreck_main(argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
