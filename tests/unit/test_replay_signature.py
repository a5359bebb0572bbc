"""ReplayGuard.payload_signature of a stored payload read as bytes is the signature the whole decoded text ends with."""
from __future__ import annotations

import random

from app.Queue.Payload import SIG_SUFFIX_LEN
from app.Queue.PayloadWriter import PayloadWriter
from app.Queue.ReplayGuard import payload_signature


def _by_decoding_all(raw: bytes) -> str | None:
    text = raw.decode("utf-8", "replace")
    return text[-66:-2] if len(text) >= SIG_SUFFIX_LEN else None


def test_a_signed_payload_gives_its_signature_from_bytes_and_text():
    raw = PayloadWriter(b"k" * 32).sign('{"job":"x","data":{"s":"ü€😀"}')
    assert payload_signature(raw.encode()) == payload_signature(raw) == raw[-66:-2]
    assert payload_signature(bytearray(raw.encode())) == raw[-66:-2]


def test_any_bytes_give_what_decoding_the_whole_payload_gives():
    rng = random.Random(20)
    alphabet = [b"a", b"0", b'"', b"}", "ü".encode(), "😀".encode(), b"\xff", b"\xc3", b"\x80"]
    for _ in range(3000):
        raw = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 90)))
        assert payload_signature(raw) == _by_decoding_all(raw), raw
