"""`--source NAME`: stored in the session's options, so resume and DLQ retries read from it too;
an unknown name is refused before anything runs."""

from __future__ import annotations

import io
import json

import pytest
from conftest import make_destination
from django.core.management import CommandError, call_command
from test_migrate_lookervault import NESTED, NESTED_STATE, looks_without_tile_query, not_done

from looker_emulator.testing import running_emulator
from restore.engine import run_session
from restore.engine.kinds.retry import start_retries
from restore.models import DeadLetterItem, RestoreSession

pytestmark = pytest.mark.django_db(transaction=True)


def restore(*args: str) -> dict:
    out = io.StringIO()
    try:
        call_command("restore", *args, stdout=out)
    except CommandError as exc:
        assert exc.returncode != 0  # completed with failures exits non-zero
    return json.loads(out.getvalue())


def test_an_unknown_source_is_refused_before_anything_runs(empty_emu):
    make_destination(empty_emu, "prod")
    with pytest.raises(CommandError, match="no destination named 'nope'"):
        call_command(
            "restore", "all", "--backup", str(NESTED["parallel"]), "-d", "prod", "--source", "nope"
        )
    assert not RestoreSession.objects.exists()


def test_a_dlq_retry_reads_from_the_source_its_session_named(empty_emu):
    """The source is unreachable during the restore: only the looks needing it are blocked,
    saying so. Once it answers, a DLQ retry of those looks reads their queries from it."""
    make_destination(empty_emu, "prod")
    with running_emulator(NESTED_STATE) as origin:
        source = make_destination(origin, "origin")
        url = source.base_url
        source.base_url = "http://127.0.0.1:9"  # nothing listens there
        source.save()
        summary = restore(
            "all",
            "--backup",
            str(NESTED["parallel"]),
            "-d",
            "prod",
            "--source",
            "origin",
            "--max-retries",
            "0",
            "--json",
        )
        session = RestoreSession.objects.get(pk=summary["session_id"])
        assert session.config["source_destination_id"] == source.pk
        lacking = looks_without_tile_query(NESTED["parallel"])
        left = not_done(session.pk)
        assert {sid for (ct, sid) in left if ct == 2} == lacking
        assert all(
            "the source instance origin is unreachable" in m
            for (ct, _), m in left.items()
            if ct == 2
        )
        assert summary["by_type"]["dashboard"]["created"] == 52  # nothing else affected

        source.base_url = url
        source.save()
        looks = DeadLetterItem.objects.filter(session=session, content_type=2)
        (retry,) = start_retries(list(looks.values_list("pk", flat=True)))
        done = run_session(retry.pk)
        assert (done["created"], done["failed"]) == (len(lacking), 0), done
        writes = [r for r in origin.stats()["requests"] if r["method"] != "GET"]
        assert all(r["route"].endswith("/login") for r in writes), writes
