"""The completed-jobs store on every backend (SQL table; Redis zset when the cache store is Redis)."""
from __future__ import annotations

import json

from app.Horizon.CompletedStoreFactory import completed_store
from app.Horizon.Paging import Filters, PageRequest
from app.Queue.Support.time import now
from tests.dashboard_support import empty_dashboard_tables
from tests.drivers.conftest import Backend


def _row(uuid: str, at: float, name: str = "A", tags: tuple[str, ...] = ()) -> tuple:
    return (uuid, "c", "q", name, json.dumps(list(tags)), json.dumps({"n": uuid}), 1, 0.5, at - 1, at)


def test_rows_are_listed_newest_first_filtered_found_and_pruned(backend: Backend):
    empty_dashboard_tables()
    store = completed_store(backend.manager)
    t = now()
    store.record([_row("old", t - 7200)])  # workers write a flush per second: an old one, then a recent one
    store.record([_row("a", t - 30, tags=("x",)), _row("b", t - 20, name="B"), _row("c", t - 10, tags=("x", "y"))])
    page = store.page(PageRequest(1, 2), since=t - 3600)
    assert (page.total, [i["id"] for i in page.items]) == (3, ["c", "b"])
    assert [i["id"] for i in store.page(PageRequest(2, 2), since=t - 3600).items] == ["a"]
    assert [i["id"] for i in store.page(PageRequest(filters=Filters(tag="x")), since=t - 3600).items] == ["c", "a"]
    assert [i["id"] for i in store.page(PageRequest(filters=Filters(job="B")), since=t - 3600).items] == ["b"]
    assert [i["id"] for i in store.page(PageRequest(filters=Filters(id="a")), since=t - 3600).items] == ["a"]
    assert store.count_since(t - 3600) == 3 and store.count_since(t - 3600, "y") == 1
    found = store.find("b")
    assert found is not None and found["data"] == {"n": "b"} and found["name"] == "B" and found["runtime"] == 0.5
    assert store.find("b", hint=t - 20) == found and store.find("b", hint=t - 900) is None
    assert store.find("old") is not None and store.find("nope") is None
    assert store.prune(t - 3600) >= 1
    assert store.find("old") is None and store.page(PageRequest(), since=0).total == 3
    store.record([_row(f"z{n}", t - 5 + n * 0.1, tags=("z",)) for n in range(5)])
    many = store.page(PageRequest(1, 1, Filters(tag="z")), since=t - 3600)  # stops once the page and the next are found
    assert [i["id"] for i in many.items] == ["z4"] and (many.total, many.capped) in ((3, True), (5, False))
    whole = store.page(PageRequest(1, 10, Filters(tag="z")), since=t - 3600)
    assert (whole.total, whole.capped) == (5, False)
