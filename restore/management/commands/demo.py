"""`manage.py demo`: everything on one machine with the embedded default, for a first look.

Starts the Looker emulator loaded with a generated instance, takes a backup of it, registers the
backup and a destination pointing at the emulator, creates a demo admin (password printed once),
then runs a django-q2 cluster and the web server until Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from restore import roles
from restore.models import Backup, Destination

ROOT = Path(settings.BASE_DIR)
DEMO_USER = "admin"
EMULATOR_CLIENT_ID = "demo-client"


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise CommandError(f"nothing is listening on 127.0.0.1:{port} after {timeout:.0f} s")


def interrupt(signum, frame) -> None:
    """Stop as Ctrl-C would; further signals are ignored so they cannot cut the clean-up short
    (uv forwards the TERM it gets, so the second one comes almost at once)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def stop_all(procs: list[subprocess.Popen]) -> None:
    """TERM every process group, then KILL what is still there after 10 s."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


class Command(BaseCommand):
    help = "Run the whole app locally: web, workers and the Looker emulator with a sample backup."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--emulator-port", type=int, default=8800)
        parser.add_argument("--items", type=int, default=1500, help="size of the sample instance")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--setup-only", action="store_true", help="prepare, start nothing")

    def handle(self, *args, port, emulator_port, items, seed, setup_only, **opts) -> None:
        for p in (port, emulator_port):
            if not setup_only and not port_free(p):
                raise CommandError(f"port {p} is in use; choose another with PORT=… / --port")
        call_command("migrate", verbosity=0)
        demo_dir = settings.DATA_DIR / "demo"
        demo_dir.mkdir(parents=True, exist_ok=True)
        password = self.ensure_admin()
        if password and setup_only:
            self.stdout.write(f"Demo admin '{DEMO_USER}' created with password: {password}")
        secret = self.emulator_secret(demo_dir)
        state = demo_dir / "emulator-state.json"
        if not state.exists():
            self.stdout.write(f"Generating a sample Looker instance ({items} items)...")
            self.python("-m", "looker_emulator", "generate", f"--items={items}",
                        f"--seed={seed}", f"--out={state}")  # fmt: skip
        procs: list[subprocess.Popen] = []
        # `kill`/`timeout` send SIGTERM: stop the children as Ctrl-C would.
        signal.signal(signal.SIGTERM, interrupt)
        signal.signal(signal.SIGINT, interrupt)
        try:
            self.spawn(
                procs, "-m", "looker_emulator", "serve", f"--port={emulator_port}",
                f"--state={state}", f"--client-id={EMULATOR_CLIENT_ID}",
                f"--client-secret={secret}", f"--seed={seed}",
            )  # fmt: skip
            wait_for_port(emulator_port)
            url = f"http://127.0.0.1:{emulator_port}"
            self.prepare_backup_and_destination(url, secret)
            if setup_only:
                return
            self.spawn(procs, "manage.py", "qcluster")
            self.spawn(
                procs, "-m", "gunicorn", "lookervault_web.wsgi", f"--bind=127.0.0.1:{port}",
                "--workers=2", "--threads=4", "--timeout=600",
            )  # fmt: skip
            wait_for_port(port)
            self.announce(port, url, password)
            self.supervise(procs)
        except KeyboardInterrupt:
            self.stdout.write("Stopping...")
        finally:
            stop_all(procs)

    def ensure_admin(self) -> str | None:
        """Create the demo admin once; its password is printed that one time only."""
        if User.objects.filter(username=DEMO_USER).exists():
            return None
        password = secrets.token_urlsafe(12)
        user = User.objects.create_user(DEMO_USER, "admin@example.com", password)
        user.groups.add(Group.objects.get(name=roles.RESTORE_ADMIN))
        return password

    def emulator_secret(self, demo_dir: Path) -> str:
        path = demo_dir / "emulator-client-secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    def prepare_backup_and_destination(self, url: str, secret: str) -> None:
        settings.BACKUP_DIR.mkdir(parents=True, exist_ok=True)
        backup_path = settings.BACKUP_DIR / "demo-instance.db"
        if not backup_path.exists():
            self.stdout.write("Taking a lookervault backup of the sample instance...")
            # `--opt=value` throughout: a generated secret may begin with "-".
            self.python("-m", "looker_emulator", "extract", f"--from={url}",
                        f"--out={backup_path}", f"--client-id={EMULATOR_CLIENT_ID}",
                        f"--client-secret={secret}", "--raw-blobs")  # fmt: skip
        backup = Backup.register(backup_path, name="Sample instance (demo)")
        if backup.status != Backup.Status.VERIFIED:
            backup.verify()
        dest = Destination.objects.filter(name="demo-emulator").first()
        dest = dest or Destination(name="demo-emulator")
        dest.base_url, dest.client_id, dest.verify_ssl = url, EMULATOR_CLIENT_ID, False
        dest.set_client_secret(secret)
        dest.save()

    def python(self, *args: str) -> None:
        subprocess.run([sys.executable, *args], cwd=ROOT, check=True)

    def spawn(self, procs: list[subprocess.Popen], *args: str) -> subprocess.Popen:
        # Own process group, so stopping it also stops its children (qcluster's workers).
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, start_new_session=True)
        procs.append(proc)
        return proc

    def announce(self, port: int, emulator_url: str, password: str | None) -> None:
        lines = [
            "",
            f"LookerVault Web is running: http://127.0.0.1:{port}/",
            f"  Looker emulator: {emulator_url} (destination 'demo-emulator')",
        ]
        if password:
            lines.append(f"  Log in as '{DEMO_USER}' with password: {password}")
            lines.append(
                "  (shown once; reset it with: uv run python manage.py changepassword admin)"
            )
        else:
            lines.append(f"  Log in as '{DEMO_USER}' (password was printed on the first run)")
        lines.append("  Ctrl-C stops everything.")
        self.stdout.write("\n".join(lines))

    def supervise(self, procs: list[subprocess.Popen]) -> None:
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        dead = [" ".join(p.args[1:3]) for p in procs if p.poll() is not None]
        raise CommandError(f"a demo process stopped unexpectedly: {dead}")
