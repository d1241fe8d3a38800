"""The retry policy: what is retried (by status), how often, and the attempt history it keeps."""

from __future__ import annotations

import pytest

from restore.engine.core.errors import LookerApiError, MissingDependencyError
from restore.engine.limits import retries as retry


@pytest.fixture(autouse=True)
def _fast_retries():
    retry.set_testing(True)
    yield
    retry.set_testing(False)


def failing(errors):
    calls = []

    def fn():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "ok"

    return fn, calls


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, None])
def test_it_retries_transient_failures(status):
    kind = "connection" if status is None else "http"
    fn, calls = failing([LookerApiError("x", status=status, kind=kind)] * 3)
    history = []
    assert retry.call_with_retries(fn, max_retries=5, history=history) == "ok"
    assert len(calls) == 4
    assert [h.status for h in history] == [status] * 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_it_never_retries_permanent_failures(status):
    fn, calls = failing([LookerApiError("x", status=status)])
    with pytest.raises(LookerApiError):
        retry.call_with_retries(fn, max_retries=5)
    assert len(calls) == 1


def test_it_gives_up_after_max_retries_with_the_last_error():
    errors = [LookerApiError(f"boom {i}", status=503) for i in range(10)]
    fn, calls = failing(errors)
    history = []
    with pytest.raises(LookerApiError, match="boom 3"):
        retry.call_with_retries(fn, max_retries=3, history=history)
    assert len(calls) == 4
    assert len(history) == 4


def test_engine_errors_that_are_not_api_errors_are_not_retried():
    fn, calls = failing([MissingDependencyError("folder 7 not restored")])
    with pytest.raises(MissingDependencyError):
        retry.call_with_retries(fn, max_retries=5)
    assert len(calls) == 1


def test_a_cancellation_stops_retrying():
    fn, calls = failing([LookerApiError("x", status=503)] * 5)
    with pytest.raises(LookerApiError):
        retry.call_with_retries(fn, max_retries=5, should_stop=lambda: True)
    assert len(calls) == 1


def test_zero_max_retries_means_one_attempt():
    fn, calls = failing([LookerApiError("x", status=503)])
    with pytest.raises(LookerApiError):
        retry.call_with_retries(fn, max_retries=0)
    assert len(calls) == 1
