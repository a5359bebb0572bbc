"""A command sent with a head packed once (RedisQueue.push_dispatch's EVALSHA, sha and keys) is byte for
byte what hiredis packs of the whole command: ints, floats, "-0", non-ASCII text, surrogate-escaped text, bytes."""
from __future__ import annotations

import hiredis
import pytest

from app.Queue.Redis.HeldConnection import _pack_exact, pack_after_head, packed_head

SHA = "a" * 40
HEAD = ("EVALSHA", SHA, 4, "queues:{q}", "queues:{q}:seq", "queues:{q}:notify")
TAILS = [
    ("cache:status:1", "-0", 0, '{"uuid":"1"}', "1", "123.5|{}", 86460000),
    ("cache:status:2", 1764631234.25, -3, '{"data":"héllo ✓"}', "", "1|{}", ""),
    ("cache:status:3", 7, 2**40, "x" * 70_000, "1", b"\x00\xff raw", 1),
    ("cache:status:4", "-0", 0, '{"s":"\udcff"}'.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape"), "1", "v", 5),
]


@pytest.mark.parametrize("tail", TAILS, ids=range(len(TAILS)))
def test_a_command_with_a_packed_head_is_the_whole_command_packed(tail: tuple):
    command = (*HEAD, *tail)
    head = packed_head(command[:6])
    assert head is not None and head.count == 6
    assert pack_after_head(head, command) == _pack_exact(command)


def test_the_same_head_serves_commands_of_any_length():
    head = packed_head(HEAD)
    for extra in [(), ("a",), ("a", "b", 3, 4.5)]:
        command = (*HEAD, *extra)
        assert pack_after_head(head, command) == hiredis.pack_command(command)
