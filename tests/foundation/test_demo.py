"""`make demo`'s preparation: sample instance, backup, destination and admin, all working."""

from __future__ import annotations

import json
import socket

from tests.procs import app_env, manage


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_prepares_a_verified_backup_a_destination_and_an_admin(tmp_path):
    env = app_env(tmp_path)
    out = manage(env, "demo", "--setup-only", "--emulator-port", str(free_port()),
                 "--items", "60", timeout=180)  # fmt: skip
    assert "Demo admin 'admin' created with password: " in out
    backups = json.loads(manage(env, "backups", "list", "--json"))
    assert len(backups) == 1 and backups[0]["status"] == "verified"
    assert backups[0]["item_counts"]["dashboard"] > 0
    dests = json.loads(manage(env, "destinations", "list", "--json"))
    assert [d["name"] for d in dests] == ["demo-emulator"]
    again = manage(env, "demo", "--setup-only", "--emulator-port", str(free_port()), timeout=180)
    assert "password" not in again  # printed once only


def test_a_generated_secret_beginning_with_a_dash_works(tmp_path):
    """About one random secret in 64 begins with "-": every command line passes it as --opt=value."""
    (tmp_path / "demo").mkdir()
    secret = tmp_path / "demo" / "emulator-client-secret"
    secret.write_text("-Starts-with-a-dash_0123456789")
    env = app_env(tmp_path)
    manage(env, "demo", "--setup-only", "--emulator-port", str(free_port()),
           "--items", "30", timeout=180)  # fmt: skip
    backups = json.loads(manage(env, "backups", "list", "--json"))
    assert len(backups) == 1 and backups[0]["status"] == "verified"
