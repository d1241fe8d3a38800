"""`manage.py destinations add|list|test|remove`: manage Looker instances from scripts.

The client secret is read from an environment variable named by --client-secret-env, or from
stdin; never from argv, where it would land in shell history and `ps` output.
"""

from __future__ import annotations

import getpass
import json
import os
import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from restore.engine import check_destination
from restore.models import Destination


def destination_json(dest: Destination) -> dict:
    """Everything about a destination that may be shown: never the secret."""
    return {
        "name": dest.name,
        "url": dest.base_url,
        "client_id": dest.client_id,
        "verify_ssl": dest.verify_ssl,
        "timeout": dest.timeout,
        "looker_version": dest.looker_version,
        "last_check_ok": dest.last_check_ok,
        "last_check_message": dest.last_check_message,
        "last_checked_at": dest.last_checked_at.isoformat() if dest.last_checked_at else None,
    }


class Command(BaseCommand):
    help = "Manage Looker destinations (add, list, test, remove)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add or update a destination")
        add.add_argument("name")
        add.add_argument("--url", required=True, help="base URL, e.g. https://company.looker.com")
        add.add_argument("--client-id", required=True)
        add.add_argument(
            "--client-secret-env",
            metavar="VAR",
            help="read the client secret from this environment variable (default: stdin)",
        )
        add.add_argument("--no-verify-ssl", action="store_true")
        add.add_argument("--timeout", type=int, default=120)
        add.add_argument("--json", action="store_true", dest="as_json")
        lst = sub.add_parser("list", help="list destinations")
        lst.add_argument("--json", action="store_true", dest="as_json")
        test = sub.add_parser("test", help="log in and read the Looker version")
        test.add_argument("name")
        test.add_argument("--json", action="store_true", dest="as_json")
        rm = sub.add_parser("remove", help="remove a destination that no session uses")
        rm.add_argument("name")
        rm.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, action: str, **opts) -> None:
        getattr(self, f"handle_{action}")(**opts)

    def emit(self, as_json: bool, payload, text: str) -> None:
        self.stdout.write(json.dumps(payload, indent=2) if as_json else text)

    def read_secret(self, env_var: str | None) -> str:
        if env_var:
            secret = os.environ.get(env_var, "")
            if not secret:
                raise CommandError(f"environment variable {env_var} is not set or empty")
            return secret
        if sys.stdin.isatty():
            secret = getpass.getpass("Client secret: ")
        else:
            secret = sys.stdin.readline().strip()
        if not secret:
            raise CommandError("no client secret given (use --client-secret-env VAR or stdin)")
        return secret

    def handle_add(self, name, url, client_id, client_secret_env, no_verify_ssl, timeout, as_json,
                   **_) -> None:  # fmt: skip
        secret = self.read_secret(client_secret_env)
        dest = Destination.objects.filter(name=name).first() or Destination(name=name)
        dest.base_url = url.rstrip("/")
        dest.client_id = client_id
        dest.verify_ssl = not no_verify_ssl
        dest.timeout = timeout
        dest.set_client_secret(secret)
        try:
            dest.full_clean()
        except Exception as exc:
            raise CommandError(f"invalid destination: {exc}") from exc
        dest.save()
        self.emit(
            as_json, destination_json(dest), f"Saved destination {dest.name} ({dest.base_url})"
        )

    def handle_list(self, as_json, **_) -> None:
        dests = list(Destination.objects.all())
        lines = [f"{d.name}\t{d.base_url}\t{d.client_id}" for d in dests] or ["(no destinations)"]
        self.emit(as_json, [destination_json(d) for d in dests], "\n".join(lines))

    def handle_test(self, name, as_json, **_) -> None:
        dest = self.get(name)
        ok = check_destination(dest)
        self.emit(as_json, destination_json(dest), dest.last_check_message)
        if not ok:
            raise CommandError(f"connection to {dest.name} failed")

    def handle_remove(self, name, as_json, **_) -> None:
        dest = self.get(name)
        if dest.restoresession_set.exists():
            raise CommandError(f"{name} has restore sessions in its history; it cannot be removed")
        dest.delete()
        self.emit(as_json, {"removed": name}, f"Removed destination {name}")

    def get(self, name: str) -> Destination:
        try:
            return Destination.objects.get(name=name)
        except Destination.DoesNotExist:
            raise CommandError(f"no destination named {name!r}") from None
