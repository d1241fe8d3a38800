"""An Auditor sees no action buttons and is refused when posting directly."""

from __future__ import annotations

import pytest

from restore import roles
from tests.browser.conftest import login, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def auditor(fast_passwords, transactional_db):
    return make_user("audrey", roles.AUDITOR)


def test_auditor_sees_no_actions_and_is_refused(page, live_server, auditor, destination_row):
    login(page, live_server, "audrey")
    page.goto(f"{live_server.url}/")
    assert page.get_by_role("link", name="New restore").count() == 0
    page.goto(f"{live_server.url}/destinations/")
    assert page.get_by_role("button", name="Test connection").count() == 0
    page.goto(f"{live_server.url}/dlq/")
    assert page.get_by_role("button", name="Retry").count() == 0
    page.goto(f"{live_server.url}/backups/")
    assert page.get_by_role("button", name="Upload").count() == 0
    # Posting directly, with a valid CSRF token from the page, is refused by the server.
    status = page.evaluate(
        """async (id) => {
            const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
            const r = await fetch(`/destinations/${id}/test/`, {method: 'POST', headers: {'X-CSRFToken': token}});
            return r.status;
        }""",
        destination_row.pk,
    )
    assert status == 403
    page.goto(f"{live_server.url}/restores/new/")
    assert "You are not allowed to do this" in page.content()


@pytest.fixture
def destination_row(transactional_db):
    from restore.models import Destination

    d = Destination(name="prod", base_url="https://looker.example.com", client_id="cid")
    d.set_client_secret("x")
    d.save()
    return d
