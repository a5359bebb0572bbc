"""Compact JSON text of acyclic values, with json's C encoder made once instead of on every call.

`json.dumps` (and `JSONEncoder.encode`) builds its C encoder, and a dict for cycle checks, on every
call: about half of what a small value costs. The hot paths that encode values they know to be
acyclic (built by the Serializer, read from JSON, flat rows) keep one encoder made here.
"""
from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring, encode_basestring_ascii
from typing import Any, Callable


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def compact_encoder(default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=default)` for acyclic values
    (no circular check: a cyclic value would recurse until RecursionError)."""
    if c_make_encoder is None:  # no C accelerator: the plain spelling
        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=default).encode
    encode = c_make_encoder(None, default or _refuse, encode_basestring, None, ":", ",", False, False, True)
    return lambda value: "".join(encode(value, 0))


def dumps_encoder() -> Callable[[Any], str]:
    """`json.dumps(value)` with its default spelling (", ", ": ", ASCII only), the C encoder made once.

    A cyclic value raises as json.dumps does (the text is made again by json.dumps, which names the
    cycle); an acyclic one gets json.dumps's text byte for byte.
    """
    if c_make_encoder is None:  # no C accelerator: the plain spelling
        return json.dumps
    encode = c_make_encoder(None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False, False, True)

    def dumps(value: Any) -> str:
        try:
            return "".join(encode(value, 0))
        except RecursionError:  # a cycle (or a very deep value): json.dumps's own error, or its text
            return json.dumps(value)

    return dumps
