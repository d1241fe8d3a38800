"""`manage.py destinations`: secrets come from env or stdin, are encrypted, and never shown."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from restore.models import Destination

pytestmark = pytest.mark.django_db
SECRET = "s3cr3t-VALUE-never-shown"


def run(*args, stdin: str = "") -> str:
    out = io.StringIO()
    import sys

    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command("destinations", *args, stdout=out)
    finally:
        sys.stdin = old
    return out.getvalue()


def test_add_reads_secret_from_env_and_encrypts_it(monkeypatch):
    monkeypatch.setenv("LV_SECRET", SECRET)
    out = run("add", "prod", "--url", "https://x.looker.com", "--client-id", "abc",
              "--client-secret-env", "LV_SECRET", "--json")  # fmt: skip
    dest = Destination.objects.get(name="prod")
    assert dest.get_client_secret() == SECRET
    assert SECRET not in dest.client_secret_encrypted
    assert SECRET not in out and SECRET not in repr(dest) and SECRET not in str(dest)
    assert json.loads(out)["client_id"] == "abc"


def test_add_reads_secret_from_stdin():
    run("add", "stage", "--url", "https://s.looker.com", "--client-id", "id", stdin=SECRET + "\n")
    assert Destination.objects.get(name="stage").get_client_secret() == SECRET


def test_missing_env_secret_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(CommandError, match="NOPE is not set"):
        run("add", "x", "--url", "https://x.com", "--client-id", "i", "--client-secret-env", "NOPE")
    assert not Destination.objects.exists()


def test_list_json_never_contains_the_secret(monkeypatch):
    monkeypatch.setenv("LV_SECRET", SECRET)
    run("add", "prod", "--url", "https://x.looker.com", "--client-id", "abc",
        "--client-secret-env", "LV_SECRET")  # fmt: skip
    out = run("list", "--json")
    assert [d["name"] for d in json.loads(out)] == ["prod"]
    assert SECRET not in out


def test_secret_never_appears_in_pages(client, admin_user, monkeypatch):
    monkeypatch.setenv("LV_SECRET", SECRET)
    run("add", "prod", "--url", "https://x.looker.com", "--client-id", "abc",
        "--client-secret-env", "LV_SECRET")  # fmt: skip
    dest = Destination.objects.get()
    client.force_login(admin_user)
    pages = [reverse("home")]
    for name in ("destination_list", "destination_edit"):
        try:
            pages.append(reverse(name, args=[dest.pk] if name.endswith("edit") else []))
        except Exception:  # the page may not exist yet in this build
            continue
    for url in pages:
        body = client.get(url).content.decode()
        assert SECRET not in body
        assert dest.client_secret_encrypted not in body


def test_test_reports_unreachable_destination(monkeypatch):
    monkeypatch.setenv("LV_SECRET", SECRET)
    run("add", "dead", "--url", "http://127.0.0.1:9", "--client-id", "abc",
        "--client-secret-env", "LV_SECRET", "--timeout", "3")  # fmt: skip
    with pytest.raises(CommandError, match="connection to dead failed"):
        run("test", "dead")
    dest = Destination.objects.get(name="dead")
    assert dest.last_check_ok is False
    assert dest.last_check_message
    assert SECRET not in dest.last_check_message
