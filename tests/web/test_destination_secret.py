"""The stored client secret goes only to the URL it was entered for: a changed URL needs the
secret again, and a login redirected to another host is not followed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from restore.models import Destination
from tests.procs import serving

pytestmark = pytest.mark.django_db


def test_a_url_change_without_the_secret_is_refused(client, admin_user, destination):
    client.force_login(admin_user)
    edit = reverse("destination_edit", args=[destination.pk])
    form = {"name": "prod", "client_id": "cid", "timeout": "30"}
    response = client.post(edit, {**form, "base_url": "https://attacker.example"})
    assert "The base URL changed: enter the client secret again" in response.content.decode()
    destination.refresh_from_db()
    assert destination.base_url == "https://looker.example.com"
    # With the secret typed again the change is saved.
    client.post(edit, {**form, "base_url": "https://new.example.com", "client_secret": "new"})
    destination.refresh_from_db()
    assert (destination.base_url, destination.get_client_secret()) == (
        "https://new.example.com",
        "new",
    )


class Recorder(BaseHTTPRequestHandler):
    """Answers every request with `answer(handler)`; keeps each request's path and body."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append((self.command, self.path, self.rfile.read(length)))  # type: ignore[attr-defined]
        status, headers = self.server.answer(self)  # type: ignore[attr-defined]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@contextmanager
def http_server(answer) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.seen, server.answer = [], answer  # type: ignore[attr-defined]
    with serving(server):
        yield server


@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_login_redirected_to_another_host_is_not_followed(client, admin_user, status):
    with http_server(lambda h: (404, {})) as elsewhere:
        target = f"http://localhost:{elsewhere.server_port}"
        with http_server(lambda h: (status, {"Location": target + h.path})) as looker:
            d = Destination(name="d", base_url=f"http://127.0.0.1:{looker.server_port}")
            d.client_id = "the-client-id"
            d.set_client_secret("the-client-secret")
            d.timeout = 10
            d.save()
            client.force_login(admin_user)
            client.post(reverse("destination_test", args=[d.pk]))
            assert looker.seen, "the connection test reached the destination"
        assert elsewhere.seen == []
    d.refresh_from_db()
    assert d.last_check_ok is False
    assert "redirected to another host" in d.last_check_message
