"""Fixtures for the emulator's tests: a running emulator and the real looker-sdk pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_sdk import make_sdk
from looker_sdk import error
from looker_sdk.sdk.api40 import methods as methods40

from looker_emulator.testing import RunningEmulator, running_emulator


@pytest.fixture(autouse=True)
def _no_error_doc_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """looker-sdk fetches error docs over the internet on every error; tests stay on loopback."""
    monkeypatch.setattr(
        error.ErrorDocHelper, "parse_and_lookup", lambda self, error_url, url="": ("", "")
    )


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with running_emulator(items=60, seed=7) as running:
        yield running


@pytest.fixture
def empty_emu() -> Iterator[RunningEmulator]:
    with running_emulator() as running:
        yield running


@pytest.fixture
def sdk(emu: RunningEmulator) -> methods40.Looker40SDK:
    return make_sdk(emu.url, emu.client_id, emu.client_secret)


@pytest.fixture
def empty_sdk(empty_emu: RunningEmulator) -> methods40.Looker40SDK:
    return make_sdk(empty_emu.url, empty_emu.client_id, empty_emu.client_secret)
