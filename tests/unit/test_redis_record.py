"""RedisRecord: the one Python reading and writing of `seq|priority|attempts|holder|payload`."""
from __future__ import annotations

import pytest

from app.Queue.Redis.RedisRecord import RedisRecord

PAYLOAD = '{"uuid":"u","data":{"note":"a|b|c"},"signature":"00"}'


def test_a_new_record_reads_back_field_by_field_and_keeps_pipes_in_the_payload():
    text = RedisRecord.new(42, -3, PAYLOAD)
    assert text == f"000000000000042|-3|0||{PAYLOAD}"
    record = RedisRecord.parse(text)
    assert record == RedisRecord("000000000000042", "-3", 0, "", PAYLOAD)
    assert record is not None and record.text == text and record.priority_value == -3


def test_starting_counts_one_attempt_and_changes_nothing_else():
    record = RedisRecord.read(f"000000000000007|5|2|worker-1|{PAYLOAD}")
    started = record.started()
    assert started.text == f"000000000000007|5|3|worker-1|{PAYLOAD}"
    assert (started.seq, started.priority, started.holder, started.payload) == (record.seq, record.priority, record.holder, record.payload)


@pytest.mark.parametrize("member", ["", "plain text", "1|2|3|4", "1|2|x|h|p", "1|2|-1|h|p", "1|2|٣|h|p"])
def test_a_member_without_the_framing_is_none_to_parse_and_a_bare_payload_to_read(member):
    assert RedisRecord.parse(member) is None
    assert RedisRecord.read(member) == RedisRecord("", "0", 0, "", member)


def test_an_unreadable_priority_reads_as_zero_but_is_kept_as_stored():
    record = RedisRecord.read("1|1.5|0||p")
    assert record.priority_value == 0 and record.text == "1|1.5|0||p"


@pytest.mark.parametrize("member", [
    f"000000000000007|5|2|worker-1|{PAYLOAD}", f"000000000000007|-3|0||{PAYLOAD}", "1|1.5|0||p", "1|2|007|h|p|q",
    "1|2|999999999|h|p", "", "plain text", "1|2|3|4", "1|2|x|h|p", "1|2|-1|h|p", "1|2|٣|h|p", "|||||"])
def test_begun_is_what_read_then_started_gives_for_any_member(member):
    """A prefetched job's BEGIN takes its started text, attempts and holder from one split (begun):
    the same as the NamedTuple way, framed or not."""
    fields = RedisRecord.read(member)
    started = fields.started()
    assert RedisRecord.begun(member) == (started.text, started.attempts, fields.holder)


@pytest.mark.parametrize("member", [
    f"000000000000007|5|2|worker-1|{PAYLOAD}", f"000000000000007|-3|0||{PAYLOAD}", "1|1.5|0||p", "1|2|007|h|p|q",
    "", "plain text", "1|2|3|4", "1|2|x|h|p", "1|2|-1|h|p", "1|2|٣|h|p", "|||||"])
def test_payload_and_attempts_are_what_read_gives_for_any_member(member):
    """A reserved job reads its payload and attempts without the NamedTuple (payload_and_attempts)."""
    fields = RedisRecord.read(member)
    assert RedisRecord.payload_and_attempts(member) == (fields.payload, fields.attempts)
