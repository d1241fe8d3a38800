"""Backups: streamed upload under BACKUP_DIR with a size limit, server paths inside DATA_DIR only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from restore.models import Backup

pytestmark = pytest.mark.django_db


def test_upload_stores_the_file_and_starts_verification(client, admin_user, fixture_backup_path):
    client.force_login(admin_user)
    data = fixture_backup_path.read_bytes()
    response = client.post(
        reverse("backup_upload"), {"file": SimpleUploadedFile("my backup.db", data), "name": ""}
    )
    backup = Backup.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("backup_detail", args=[backup.pk])
    path = Path(backup.path)
    assert path.parent == Path(settings.BACKUP_DIR).resolve()
    assert path.read_bytes() == data
    assert backup.uploaded_by == admin_user
    assert backup.status == Backup.Status.PENDING
    page = client.get(reverse("backup_detail", args=[backup.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page and "running in the background" in page


def test_htmx_upload_redirects_with_a_header(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("backup_upload"),
        {"file": SimpleUploadedFile("b.db", b"x" * 100)},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/backups/")


def test_upload_over_the_limit_is_refused_and_not_kept(client, admin_user, settings):
    settings.LOOKERVAULT_MAX_UPLOAD_BYTES = 1000
    client.force_login(admin_user)
    response = client.post(
        reverse("backup_upload"),
        {"file": SimpleUploadedFile("big.db", b"x" * 50_000)},
        HTTP_HX_REQUEST="true",
    )
    assert b"larger than the upload limit" in response.content
    assert not Backup.objects.exists()
    assert (
        not list(Path(settings.BACKUP_DIR).glob("*"))
        if Path(settings.BACKUP_DIR).exists()
        else True
    )


def test_declared_oversize_upload_is_refused_before_reading(client, admin_user, settings):
    settings.LOOKERVAULT_MAX_UPLOAD_BYTES = 10
    client.force_login(admin_user)
    response = client.post(
        reverse("backup_upload"),
        {"file": SimpleUploadedFile("big.db", b"x" * 200_000)},
        HTTP_HX_REQUEST="true",
    )
    assert b"larger than the upload limit" in response.content
    assert not Backup.objects.exists()


def test_register_a_path_inside_the_data_dir(client, admin_user, fixture_backup_path):
    target = Path(settings.DATA_DIR) / "server.db"
    shutil.copy(fixture_backup_path, target)
    client.force_login(admin_user)
    response = client.post(reverse("backup_register"), {"path": str(target), "name": "on server"})
    backup = Backup.objects.get()
    assert response.status_code == 302
    assert backup.name == "on server" and Path(backup.path) == target.resolve()


@pytest.mark.parametrize("path", ["/etc/passwd", "../../etc/passwd", "/nonexistent/x.db"])
def test_register_refuses_paths_outside_the_data_dir(client, admin_user, path):
    client.force_login(admin_user)
    response = client.post(reverse("backup_register"), {"path": path}, follow=True)
    assert not Backup.objects.exists()
    assert b"must be inside the data directory" in response.content


def test_status_poll_stops_once_verified(client, auditor_user, backup):
    client.force_login(auditor_user)
    response = client.get(reverse("backup_status", args=[backup.pk]))
    assert response.status_code == 286
    backup.status = Backup.Status.VERIFYING
    backup.save()
    assert client.get(reverse("backup_status", args=[backup.pk])).status_code == 200


def test_failed_verification_shows_the_reason(client, auditor_user, backup):
    backup.status = Backup.Status.FAILED
    backup.verification_error = "content_items: blob of dashboard 7 does not decode"
    backup.save()
    client.force_login(auditor_user)
    page = client.get(reverse("backup_detail", args=[backup.pk])).content.decode()
    assert "failed verification" in page and "blob of dashboard 7 does not decode" in page


def test_large_upload_is_streamed_to_a_temp_file_and_moved(client, admin_user, settings, tmp_path):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # force the on-disk path with a small file
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    client.force_login(admin_user)
    data = b"SQLite format 3\x00" + b"x" * 100_000
    client.post(reverse("backup_upload"), {"file": SimpleUploadedFile("big.db", data)})
    backup = Backup.objects.get()
    assert Path(backup.path).read_bytes() == data
    assert not list(tmp_path.iterdir())  # moved, not copied


class CountingStream:
    """The request body as the server reads it: counts what was read."""

    def __init__(self, stream) -> None:
        self.stream, self.read_bytes = stream, 0

    def read(self, *args):
        data = self.stream.read(*args)
        self.read_bytes += len(data)
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self.read_bytes += len(data)
        return data


def test_a_forged_upload_is_refused_before_its_body_is_read(admin_user, settings):
    from django.test import RequestFactory

    from restore.views.backups import backup_upload

    request = RequestFactory().post(
        reverse("backup_upload"), {"file": SimpleUploadedFile("x.db", b"x" * 200_000)}
    )
    request.user = admin_user
    # The victim's browser sends its CSRF cookie along with a forged cross-site POST.
    request.COOKIES[settings.CSRF_COOKIE_NAME] = "a" * 32
    request._stream = counting = CountingStream(request._stream)
    response = backup_upload(request)
    assert response.status_code == 403 and counting.read_bytes == 0
    assert not Backup.objects.exists()


def test_the_upload_form_sends_its_token_in_a_header(admin_user, fixture_backup_path):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    page = browser.get(reverse("backup_list")).content.decode()
    token = page.split('"X-CSRFToken": "', 1)[1].split('"', 1)[0]
    data = {"file": SimpleUploadedFile("ok.db", fixture_backup_path.read_bytes())}
    response = browser.post(reverse("backup_upload"), data, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302 and Backup.objects.count() == 1


def test_the_upload_form_works_without_javascript(admin_user, fixture_backup_path):
    """Posted as a plain HTML form (no header): the token in its action's query string passes."""
    import html

    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    page = browser.get(reverse("backup_list")).content.decode()
    action = html.unescape(
        page.split('id="upload-form" method="post" action="', 1)[1].split('"')[0]
    )
    assert action.startswith(reverse("backup_upload") + "?csrfmiddlewaretoken=")
    data = {"file": SimpleUploadedFile("plain.db", fixture_backup_path.read_bytes())}
    response = browser.post(action, data)
    backup = Backup.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("backup_detail", args=[backup.pk])
    assert Path(backup.path).read_bytes() == fixture_backup_path.read_bytes()


def test_a_wrong_token_in_the_query_is_refused_before_the_body_is_read(admin_user, settings):
    from django.test import RequestFactory

    from restore.views.backups import backup_upload

    forged = "b" * 32 + "c" * 32  # a well-formed token of another secret
    request = RequestFactory().post(
        f"{reverse('backup_upload')}?csrfmiddlewaretoken={forged}",
        {"file": SimpleUploadedFile("x.db", b"x" * 200_000)},
    )
    request.user = admin_user
    request.COOKIES[settings.CSRF_COOKIE_NAME] = "a" * 32
    request._stream = counting = CountingStream(request._stream)
    response = backup_upload(request)
    assert response.status_code == 403 and counting.read_bytes == 0
    assert not Backup.objects.exists()


def test_an_upload_that_fails_verification_leaves_no_file(client, admin_user, settings):
    from restore.tasks import verify_backup

    client.force_login(admin_user)
    client.post(reverse("backup_upload"), {"file": SimpleUploadedFile("bad.db", b"not sqlite")})
    backup = Backup.objects.get()
    assert Path(backup.path).exists()
    assert verify_backup(backup.pk) is False  # what the qcluster runs
    backup.refresh_from_db()
    assert backup.status == Backup.Status.FAILED and not Path(backup.path).exists()
    assert list(Path(settings.BACKUP_DIR).iterdir()) == []
    page = client.get(reverse("backup_detail", args=[backup.pk])).content.decode()
    assert "The uploaded file was removed" in page
