"""float_text (Support/time.py) spells every float as repr does, whatever was asked before it and from
however many threads: it only remembers the last float, and never zero (0.0 and -0.0 spell apart)."""
from __future__ import annotations

import math
import threading

from app.Queue.Support.time import float_text

SEQUENCE = [1764631234.1234567, 1764631234.1234567, 0.0, -0.0, 0.0, -0.0, -0.0, 1e-300, 1e300, 5e-324,
            float("inf"), float("-inf"), float("nan"), float("nan"), 1.5, 1.5, 1764631234.1234569, 1764631234.1234567]


def test_each_float_is_spelt_as_repr_spells_it_in_any_order():
    for first in SEQUENCE:
        for second in SEQUENCE:
            assert float_text(first) == repr(first)
            assert float_text(second) == repr(second)


def test_threads_asking_different_floats_each_get_their_own_text():
    errors: list[tuple[float, str]] = []

    def spell(base: float) -> None:
        for i in range(20_000):
            value = base + (i % 7) / 8
            text = float_text(value)
            if text != repr(value):
                errors.append((value, text))

    threads = [threading.Thread(target=spell, args=(1764631234.0 + 1000 * n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert math.isnan(float(float_text(float("nan"))))
