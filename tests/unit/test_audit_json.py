"""Audit entries are stored as the same JSON text whether their repeated parts were cached or not."""
from __future__ import annotations

import json

import pytest

from app.Audit.AuditEntry import AuditEntry
from app.Audit.AuditJson import AuditJson

plain = json.JSONEncoder(separators=(",", ":")).encode


def entry(**changes: object) -> AuditEntry:
    base = AuditEntry("dispatched", "0b5e2f3c-1d2e-4f5a-8b6c-7d8e9f0a1b2c", "NoopJob", "bench", "redis", None, None,
                      1796146534.0091393, "host-1", "root: bench.py")
    return base._replace(**changes)


ENTRIES = [
    entry(),
    entry(job_id=None, tenant="acme", attempt=3, detail="ValueError"),
    entry(job_class='Quo"ted\\Class', queue="ünïcode ✓", actor="ops: artisan queue:retry", host="h\n2"),
    entry(job_id='id-with-"quote"-and-é', at=0.1),
    entry(at=float("inf")),       # not finite: the plain encoder writes it
    entry(job_id=12345),          # a uuid read from an untrusted envelope may be anything
    entry(tenant=["not", "hashable"]),
    entry(at=17),                 # an int time
]


@pytest.mark.parametrize("item", ENTRIES, ids=range(len(ENTRIES)))
def test_each_entry_is_spelled_exactly_as_the_plain_encoder_spells_it_first_and_from_the_cache(item: AuditEntry):
    encoder = AuditJson()
    assert encoder.encode(item) == plain(item.as_dict())
    assert encoder.encode(item) == plain(item.as_dict())  # again, from the cached parts


def test_entries_that_differ_only_in_uuid_and_time_share_parts_but_keep_their_own_uuid_and_time():
    encoder = AuditJson()
    first, second = entry(), entry(job_id="ffffffff-0000-4000-8000-000000000000", at=1.5)
    assert json.loads(encoder.encode(first))["job_id"] == first.job_id
    decoded = json.loads(encoder.encode(second))
    assert (decoded["job_id"], decoded["at"]) == (second.job_id, 1.5)
    assert decoded == second.as_dict()


def test_encode_many_spells_each_entry_as_the_plain_encoder_does_runs_of_one_bulk_and_mixed_ones_alike():
    at = 1796146534.25
    bulk = [entry(job_id=f"00000000-0000-4000-8000-{i:012d}", at=at) for i in range(5)]
    mixed = [*bulk[:2], *ENTRIES, bulk[2], entry(job_id=bulk[3].job_id, at=at, queue="other"), bulk[4],
             entry(job_id="x", at=float(at))]  # an equal time that is another object: encoded on its own, same text
    for items in (bulk, mixed):
        assert AuditJson().encode_many(items) == [plain(e.as_dict()) for e in items]


def test_encode_many_of_single_dispatches_entries_each_with_its_own_time_spells_each_as_the_plain_encoder():
    singles = [entry(job_id=f"00000000-0000-4000-8000-{i:012d}", at=1796146534.0 + i / 7) for i in range(6)]
    mixed = [singles[0], singles[1], entry(job_class="Other", at=singles[1].at), singles[2],
             entry(tenant=["not", "hashable"], at=singles[3].at), singles[3],  # unhashable between two of one run
             entry(at=float("nan")), singles[4], entry(job_id=None, at=singles[4].at), singles[5],
             entry(at=3), entry(job_id="y", at=3.0)]
    for items in (singles, mixed):
        assert AuditJson().encode_many(items) == [plain(e.as_dict()) for e in items]
