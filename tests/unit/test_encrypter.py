"""The AES-GCM Encrypter: bound to its job, readable under previous keys, clear when it cannot decrypt."""
from __future__ import annotations

import pytest

from app.Jobs.Encrypter import Encrypter
from app.Queue.errors import InvalidPayloadError
from tests.fixtures.feature_jobs import PaymentJob, PlainJob, SecretJob

OLD, NEW = b"o" * 32, b"n" * 32


def test_round_trip_under_the_current_key():
    enc = Encrypter(NEW)
    assert enc.decrypt(enc.encrypt(b"hello", "uuid-1"), "uuid-1") == b"hello"


def test_ciphertext_moved_to_another_job_does_not_decrypt():
    enc = Encrypter(NEW)
    token = enc.encrypt(b"hello", "uuid-1")
    with pytest.raises(InvalidPayloadError, match="cannot decrypt job data"):
        enc.decrypt(token, "uuid-2")


def test_previous_keys_decrypt_old_payloads_and_unknown_keys_do_not():
    token = Encrypter(OLD).encrypt(b"hello", "u")
    assert Encrypter(NEW, [OLD]).decrypt(token, "u") == b"hello"
    with pytest.raises(InvalidPayloadError, match="APP_PREVIOUS_KEYS"):
        Encrypter(NEW).decrypt(token, "u")


def test_malformed_tokens_are_refused_clearly():
    with pytest.raises(InvalidPayloadError, match="not an AES-GCM token"):
        Encrypter(NEW).decrypt({"not": "a token"}, "u")


def test_what_gets_encrypted(queue_env, tmp_path):
    enc = Encrypter(NEW, manager=queue_env)
    assert enc.should_encrypt(SecretJob(tmp_path, "s"), "default")
    assert not enc.should_encrypt(PlainJob(tmp_path, "s"), "default")
    assert enc.should_encrypt(PaymentJob(tmp_path, "c", "n"), "default")
    queue_env.define_queue("vault", encryption_enabled=True)
    assert enc.should_encrypt(PlainJob(tmp_path, "s"), "vault")


def test_envelope_round_trip_keeps_other_fields_plain(queue_env, tmp_path):
    enc = Encrypter(NEW, manager=queue_env)
    job = PaymentJob(tmp_path, "4111", "note")
    envelope = {"uuid": "u1", "queue": "default", "data": {"card": "4111", "note": "note"}}
    sealed = enc.encrypt_envelope(dict(envelope, data=dict(envelope["data"])), job)
    assert sealed["data"]["note"] == "note" and sealed["data"]["card"].startswith("aesgcm1:")
    assert sealed["encryptedFields"] == ["card"]
    assert enc.decrypt_envelope(sealed)["data"] == {"card": "4111", "note": "note"}
