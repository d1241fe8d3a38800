"""`next` never leads off this site; CSV cells never run as spreadsheet formulas."""

from __future__ import annotations

import csv
import io

from django.urls import reverse

from restore.models import RestoreItemResult


def test_dlq_retry_ignores_a_next_that_leads_off_site(client, support_user, dlq_item):
    client.force_login(support_user)
    url = reverse("dlq_retry_one", args=[dlq_item.pk])
    response = client.post(url, {"next": "https://evil.example/phish"})
    assert response["Location"] == reverse("dlq_item", args=[dlq_item.pk])
    for sneaky in ("//evil.example/phish", "/\\evil.example", "javascript:alert(1)"):
        dlq_item.status = "open"
        dlq_item.save(update_fields=["status"])
        assert "evil" not in client.post(url, {"next": sneaky})["Location"]


def test_dlq_retry_follows_a_next_on_this_site(client, support_user, dlq_item):
    client.force_login(support_user)
    back = reverse("dlq_list") + "?status=open"
    response = client.post(reverse("dlq_retry_one", args=[dlq_item.pk]), {"next": back})
    assert response["Location"] == back


def test_items_csv_neutralises_formula_cells(client, auditor_user, session, results):
    RestoreItemResult.objects.filter(pk=results[0].pk).update(
        name='=HYPERLINK("https://evil.example","x")', message="+1-2", destination_id="@SUM(A1)"
    )
    client.force_login(auditor_user)
    response = client.get(reverse("session_results_csv", args=[session.pk]))
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    cells = [cell for row in rows[1:] for cell in row]
    assert '\'=HYPERLINK("https://evil.example","x")' in cells
    assert "'+1-2" in cells and "'@SUM(A1)" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


def test_summary_csv_neutralises_formula_cells(client, auditor_user, session):
    from restore.engine.core.documents import Counts, Summary, store

    doc = Summary(
        session_id=session.pk,
        status="completed",
        total=1,
        failed=1,
        by_type={"=cmd|' /C calc'!A0": Counts(failed=1)},
        by_error_class={"@SUM(A1)": 1, "+HYPERLINK(1)": 2},
    )
    session.summary = store(doc)
    session.save(update_fields=["summary"])
    client.force_login(auditor_user)
    body = client.get(reverse("session_summary_csv", args=[session.pk])).content.decode()
    cells = [cell for row in csv.reader(io.StringIO(body)) for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(A1)" in cells and "'+HYPERLINK(1)" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
