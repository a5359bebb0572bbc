"""A --concurrency worker caps glibc's malloc arenas, unless the operator set MALLOC_ARENA_MAX."""
from __future__ import annotations

import os

import pytest

from app.Queue.Support.malloc_arenas import cap_arenas

GLIBC = "glibc" in (os.confstr("CS_GNU_LIBC_VERSION") or "") if hasattr(os, "confstr") else False


@pytest.mark.skipif(not GLIBC, reason="mallopt(M_ARENA_MAX) is glibc's")
def test_the_cap_is_taken_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert cap_arenas(8) is True  # 8: what this test process may keep using


def test_an_operators_setting_is_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert cap_arenas() is False
