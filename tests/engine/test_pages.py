"""Reading a type a page at a time: every object exactly once, over several pages, with only the
fields asked for, as the spec's search_*/all_* endpoints answer (limit/offset, fields)."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import client_for

from looker_emulator.testing import running_emulator
from restore.engine.core.content_types import ContentType
from restore.engine.looker.pages import LIST_ENDPOINTS, read_pages


@pytest.fixture(scope="module")
def emu():
    with running_emulator(items=300, seed=3) as emu:
        yield emu


def gets(emu) -> Counter:
    counts: Counter = Counter()
    for r in emu.stats()["requests"]:
        if r["method"] == "GET":
            counts[r["route"]] += r["count"]
    return counts


@pytest.mark.parametrize("ct", list(LIST_ENDPOINTS), ids=lambda ct: ct.slug)
def test_every_object_once_over_pages(emu, ct: ContentType) -> None:
    client = client_for(emu)
    key = "name" if ct == ContentType.LOOKML_MODEL else "id"
    one_by_one = {str(o[key]) for o in read_pages(client, ct, [key], page_size=1000)}
    before = gets(emu)
    paged = [str(o[key]) for o in read_pages(client, ct, [key, "created_at"], page_size=7)]
    after = gets(emu)
    assert sorted(paged) == sorted(one_by_one) and len(paged) == len(set(paged))
    requests = sum((after - before).values())
    if LIST_ENDPOINTS[ct].paged:
        assert requests == len(paged) // 7 + 1
    else:
        assert requests == 1


def test_fields_limit_the_answer_and_dashboards_keep_their_tiles(emu) -> None:
    client = client_for(emu)
    light = next(read_pages(client, ContentType.DASHBOARD, ["id", "title"]))
    assert set(light) == {"id", "title"}
    deep = next(read_pages(client, ContentType.DASHBOARD, ["id", "dashboard_elements"]))
    assert isinstance(deep["dashboard_elements"], list)
