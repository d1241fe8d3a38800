"""Transient errors that were retried and then went through leave a trace: the session page counts
them by status, and an item's page lists the attempts that failed on its way."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import client_for, make_destination, quick, run
from django.urls import reverse
from django_q.conf import Conf

from restore.engine.limits import retries as retry
from restore.engine.run.session import start_session
from restore.models import RestoreSession
from restore.tasks import run_distributed_session_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def short_waits() -> Iterator[None]:
    retry.set_testing(True, max_wait=0.05)
    yield
    retry.set_testing(False)


def answered(emu, status: int) -> int:
    return sum(r["count"] for r in emu.stats()["requests"] if r["status"] == str(status))


@pytest.mark.parametrize("way", ["one process", "distributed"])
def test_retried_errors_are_counted_on_the_session_and_listed_on_the_item(
    source_emu, empty_emu, backup_factory, admin_client, monkeypatch, way
):
    backup = backup_factory(source_emu)
    dest = make_destination(empty_emu)
    empty_emu.set_faults(
        add_rules=[
            {"method": "POST", "path": "*/dashboards", "status": 503, "count": 3},
            {"method": "POST", "path": "*/looks", "status": 429, "count": 2},
        ]
    )
    session = start_session(backup, dest, quick(workers=2))
    if way == "one process":
        result = run(session, client_for(empty_emu))
    else:  # chunk tasks in this process (django-q2's sync mode); the coordinator sums the rows
        monkeypatch.setattr(Conf, "SYNC", True)
        result = run_distributed_session_task(session.pk, chunk_size=10)
    assert result["status"] == "completed" and result["failed"] == 0, result
    assert (answered(empty_emu, 503), answered(empty_emu, 429)) == (3, 2)

    session = RestoreSession.objects.get(pk=session.pk)
    assert session.progress["transient_retried"] == {"503": 3, "429": 2}
    page = admin_client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert "5 transient errors retried (503 ×3, 429 ×2)" in page

    shown = 0
    for row in session.results.filter(retries__isnull=False):
        url = reverse("result_detail", args=[session.pk, row.pk])
        html = admin_client.get(url).content.decode()
        n = len(row.retries)
        words = "transient error" if n == 1 else "transient errors"
        assert f"{n} {words} retried on the way" in html
        assert len(re.findall(r"<td>(503|429)</td>", html)) == n
        shown += n
    assert shown == 5


def test_a_run_without_retries_says_nothing_about_them(
    source_emu, empty_emu, backup_factory, admin_client
):
    backup = backup_factory(source_emu)
    session = start_session(backup, make_destination(empty_emu), quick(workers=2))
    assert run(session, client_for(empty_emu))["failed"] == 0
    page = admin_client.get(reverse("session_detail", args=[session.pk])).content.decode()
    assert "retried (" not in page and 'id="retried"' not in page
