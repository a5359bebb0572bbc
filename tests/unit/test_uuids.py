"""uuid4_strings lays out random version-4 uuids exactly as str(uuid.UUID) spells them."""
from __future__ import annotations

import uuid

import pytest

from app.Queue.Support.uuids import UuidPool, uuid4_strings


@pytest.mark.parametrize("n", [0, 1, 2, 64, 1000])
def test_each_is_a_distinct_version_4_uuid_in_canonical_text(n: int):
    made = uuid4_strings(n)
    assert len(made) == n == len(set(made))
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)


def test_every_hex_digit_varies_so_none_is_left_as_filler():
    made = uuid4_strings(2000)
    for place in range(36):
        seen = {text[place] for text in made}
        if place in (8, 13, 18, 23):
            assert seen == {"-"}
        elif place == 14:
            assert seen == {"4"}  # the version digit
        elif place == 19:
            assert seen == set("89ab")  # the variant's two bits
        else:
            assert len(seen) == 16


def test_a_pool_hands_out_each_uuid_once():
    pool = UuidPool()
    taken = [pool.take() for _ in range(300)]
    assert len(set(taken)) == 300 and all(uuid.UUID(t).version == 4 for t in taken)
