"""Every fault kind, set at start, through the control API and at run time; deterministic by seed."""

from __future__ import annotations

import contextlib
import time

import pytest
from emulator_sdk import headers_of, make_sdk, raw, status_of
from looker_sdk import error
from looker_sdk.sdk.api40 import methods as methods40
from looker_sdk.sdk.api40 import models as m

from looker_emulator.testing import RunningEmulator, running_emulator

SDK = methods40.Looker40SDK


def _outcomes(sdk: SDK, n: int) -> list[int | None]:
    out = []
    for _ in range(n):
        with contextlib.suppress(error.SDKError):
            sdk.folder("1")
        out.append(status_of(sdk))
    return out


def test_latency_and_jitter_slow_every_request(emu: RunningEmulator, sdk: SDK) -> None:
    sdk.me()
    emu.set_faults(latency_ms=120, jitter_ms=30)
    started = time.monotonic()
    sdk.folder("1")
    elapsed = time.monotonic() - started
    assert 0.12 <= elapsed < 1.0


def test_rate_limit_answers_429_with_retry_after(emu: RunningEmulator, sdk: SDK) -> None:
    sdk.me()
    emu.set_faults(rate_limit=5)
    statuses = _outcomes(sdk, 15)
    assert 200 in statuses and 429 in statuses
    time.sleep(1.1)  # the bucket refills
    for _ in range(20):
        try:
            sdk.folder("1")
        except error.SDKError:
            assert status_of(sdk) == 429
            assert int(headers_of(sdk)["Retry-After"]) >= 1
            break
    else:
        pytest.fail("no 429 seen")
    assert emu.stats()["faults"]["rate_limited"] >= 1


def test_error_rate_answers_5xx_deterministically_by_seed() -> None:
    runs = []
    for _ in range(2):
        with running_emulator(seed=11) as emu:
            sdk = make_sdk(emu.url, emu.client_id, emu.client_secret)
            sdk.me()
            emu.set_faults(error_rate=0.5, seed=11)
            runs.append(_outcomes(sdk, 30))
    assert runs[0] == runs[1]
    assert set(runs[0]) - {200} <= {500, 502, 503}
    assert 200 in runs[0] and len(set(runs[0])) > 1


def test_connection_resets_drop_the_connection(emu: RunningEmulator, sdk: SDK) -> None:
    sdk.me()
    emu.set_faults(reset_rate=1.0)
    with pytest.raises(error.SDKError):
        sdk.folder("1")
    assert status_of(sdk) is None  # no HTTP answer at all
    emu.set_faults(reset_rate=0.0)
    assert sdk.folder("1").id == "1"
    assert emu.stats()["faults"]["reset"] == 1


def test_hanging_requests_never_answer(emu: RunningEmulator) -> None:
    sdk = make_sdk(emu.url, emu.client_id, emu.client_secret, timeout=1)
    sdk.me()
    emu.set_faults(hang_rate=1.0, hang_s=30)
    started = time.monotonic()
    with pytest.raises(error.SDKError):
        sdk.folder("1")
    assert 0.9 <= time.monotonic() - started < 5


def test_slow_requests(emu: RunningEmulator, sdk: SDK) -> None:
    sdk.me()
    emu.set_faults(slow_rate=1.0, slow_ms=250)
    started = time.monotonic()
    sdk.folder("1")
    assert time.monotonic() - started >= 0.25


def test_scripted_rule_next_n_matching_requests(emu: RunningEmulator, sdk: SDK) -> None:
    sdk.me()
    emu.set_faults(
        add_rules=[{"method": "POST", "path": "/api/4.0/dashboards", "status": 503, "count": 2}]
    )
    for _ in range(2):
        with pytest.raises(error.SDKError):
            sdk.create_dashboard(m.WriteDashboard(title="Retry me", folder_id="1"))
        assert status_of(sdk) == 503
    sdk.folder("1")  # other routes are untouched
    created = sdk.create_dashboard(m.WriteDashboard(title="Retry me", folder_id="1"))
    assert created.id
    assert emu.stats()["creates"]["dashboard"] == 1
    assert [d.id for d in sdk.search_dashboards(title="Retry me")] == [created.id]


def test_scripted_rule_matches_route_templates(emu: RunningEmulator, sdk: SDK) -> None:
    sdk.me()
    emu.set_faults(
        add_rules=[
            {"method": "GET", "path": "/api/4.0/folders/{folder_id}", "status": 500, "count": 1}
        ]
    )
    with pytest.raises(error.SDKError):
        sdk.folder("2")
    assert status_of(sdk) == 500
    assert sdk.folder("2").id == "2"


def test_throttle_retry_after_tells_when_it_ends(emu: RunningEmulator, sdk: SDK) -> None:
    sdk.me()
    emu.set_faults(throttle_seconds=30)
    with pytest.raises(error.SDKError):
        sdk.folder("1")
    assert status_of(sdk) == 429
    assert 29 <= int(headers_of(sdk)["Retry-After"]) <= 30
    emu.set_faults(rules=[])
    assert sdk.folder("1").id == "1"


def test_throttle_for_t_seconds(emu: RunningEmulator, sdk: SDK) -> None:
    sdk.me()
    emu.set_faults(throttle_seconds=0.5)
    with pytest.raises(error.SDKError):
        sdk.folder("1")
    assert status_of(sdk) == 429
    assert headers_of(sdk)["Retry-After"] == "1"
    time.sleep(0.6)
    assert sdk.folder("1").id == "1"


def test_reset_after_processing_loses_the_answer_but_keeps_the_write(
    emu: RunningEmulator, sdk: SDK
) -> None:
    sdk.me()
    emu.set_faults(add_rules=[{"method": "POST", "path": "*/dashboards", "action": "reset_after"}])
    with pytest.raises(error.SDKError):
        sdk.create_dashboard(m.WriteDashboard(title="Lost answer", folder_id="1"))
    assert status_of(sdk) is None
    assert len(sdk.search_dashboards(title="Lost answer")) == 1
    assert emu.stats()["creates"]["dashboard"] == 1


def test_control_api_over_http(emu: RunningEmulator, sdk: SDK) -> None:
    resp = raw(
        sdk, "POST", f"{emu.url}/_emulator/faults", json={"latency_ms": 5, "rate_limit": 100}
    )
    assert resp.status_code == 200
    assert resp.json()["latency_ms"] == 5.0
    assert raw(sdk, "GET", f"{emu.url}/_emulator/faults").json()["rate_limit"] == 100.0
    bad = raw(sdk, "POST", f"{emu.url}/_emulator/faults", json={"no_such_fault": 1})
    assert bad.status_code == 400
    sdk.folder("1")
    stats = raw(sdk, "GET", f"{emu.url}/_emulator/stats").json()
    assert {
        "method": "GET",
        "route": "/api/4.0/folders/{folder_id}",
        "status": "200",
        "count": 1,
    } in stats["requests"]
    assert raw(sdk, "POST", f"{emu.url}/_emulator/reset?faults=1").json() == {
        "reset": ["stats", "faults"]
    }
    after = raw(sdk, "GET", f"{emu.url}/_emulator/stats").json()
    assert after["total"] == 0
    assert raw(sdk, "GET", f"{emu.url}/_emulator/faults").json()["latency_ms"] == 0.0


def test_faults_from_start_arguments() -> None:
    with running_emulator(
        latency_ms=100, rules=[{"path": "/api/4.0/versions", "status": 502, "count": 1}]
    ) as emu:
        sdk = make_sdk(emu.url, emu.client_id, emu.client_secret)
        started = time.monotonic()
        with pytest.raises(error.SDKError):
            sdk.versions()
        assert status_of(sdk) == 502
        assert time.monotonic() - started >= 0.1
        assert sdk.versions().current_version.version == "4.0"


def test_faults_from_cli_flags() -> None:
    from looker_emulator.testing import emulator_process

    with emulator_process(
        "--latency-ms", "80", "--rate-limit", "1000", "--error-rate", "0", "--seed", "4"
    ) as url:
        sdk = make_sdk(url, "lookervault", "emulator-secret")
        sdk.me()
        started = time.monotonic()
        sdk.folder("1")
        assert time.monotonic() - started >= 0.08
        faults = raw(sdk, "GET", f"{url}/_emulator/faults").json()
        assert (faults["latency_ms"], faults["rate_limit"], faults["seed"]) == (80.0, 1000.0, 4)


def test_random_lost_responses_keep_the_write(emu: RunningEmulator, sdk: SDK) -> None:
    sdk.me()
    emu.set_faults(reset_after_rate=1.0)
    with pytest.raises(error.SDKError):
        sdk.create_folder(m.CreateFolder(name="Written but unanswered", parent_id="1"))
    assert status_of(sdk) is None
    emu.set_faults(reset_after_rate=0.0)
    assert len(sdk.search_folders(name="Written but unanswered")) == 1
    stats = emu.stats()
    assert stats["faults"]["reset_after"] == 1
    assert stats["creates"]["folder"] == 1
