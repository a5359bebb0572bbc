"""Turn job attributes into JSON-safe values and back, without pickle.

Plain JSON types pass through; other supported types become tagged objects
`{"__t": tag, ...}`. Classes (nested jobs, enums, serialisable objects) are
resolved only from the allowed module prefixes.
"""
from __future__ import annotations

import base64
import enum
import importlib
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Sequence

from app.Queue.DispatchChecks import check_depth, check_int, check_text
from app.Queue.errors import InvalidPayloadError, SerializationError

TAG = "__t"


def class_path(cls: type) -> str:
    """Name a class as `module:Qualname`."""
    return f"{cls.__module__}:{cls.__qualname__}"


def module_allowed(module: str, allowed: Sequence[str]) -> bool:
    """Match whole package prefixes: `app` and `app.` allow `app.Jobs.X`, not `application.X`."""
    for prefix in allowed:
        base = prefix.rstrip(".")
        if base and (module == base or module.startswith(base + ".")):
            return True
    return False


def resolve_class(path: str, allowed: Sequence[str], base: type | None = None) -> type:
    """Load `module:Qualname` when the module is allowed and the class subclasses `base`.

    Successful lookups are cached (a worker resolves the same few classes for every job);
    refusals are not, so each one raises with its reason.
    """
    return _resolve_cached(path, tuple(allowed), base)


@lru_cache(maxsize=1024)
def _resolve_cached(path: str, allowed: tuple[str, ...], base: type | None) -> type:
    module_name, sep, qualname = path.partition(":")
    if not sep or not module_name or not qualname:
        raise InvalidPayloadError(f"bad class reference {path!r}; expected 'module:ClassName'")
    if not module_allowed(module_name, allowed):
        raise InvalidPayloadError(
            f"class {path!r} is outside the allowed job modules {list(allowed)} (QUEUE_ALLOWED_JOB_MODULES)"
        )
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidPayloadError(f"cannot load class {path!r}: {exc}") from None
    if not isinstance(obj, type) or (base is not None and not issubclass(obj, base)):
        wanted = getattr(base, "_error_name", base.__name__) if base else "a class"
        raise InvalidPayloadError(f"{path!r} is not a subclass of {wanted}")
    if obj.__module__ != module_name or obj.__qualname__ != qualname:
        # reached through an import: only classes defined in an allowed module are loaded
        raise InvalidPayloadError(f"{path!r} names {class_path(obj)}, which is not defined in {module_name!r}")
    return obj


Encoder = Callable[[Any, str, int], Any]  # (value, path, depth) -> JSON-safe value
Decoder = Callable[[Any, dict], Any]  # (the tagged object's "v", the whole tagged object) -> value


class Serializer:
    """Encode and decode attribute values; `job_base` is the Job class for nested jobs.

    Tagged types are two tables: encoders tried in order with isinstance (a subclass is
    encoded as its first listed base: datetime before date, an IntEnum as an enum), and
    decoders looked up by tag.
    """

    def __init__(self, allowed_modules: Sequence[str], job_base: type, job_encoder: Callable[[Any], dict], job_decoder: Callable[[dict], Any]) -> None:
        self.allowed = tuple(allowed_modules)
        self.job_base = job_base
        self._encode_job = job_encoder
        self._decode_job = job_decoder
        self._encoders: tuple[tuple[type | tuple[type, ...], Encoder], ...] = (
            (job_base, lambda v, path, depth: {TAG: "job", "v": job_encoder(v)}),
            (enum.Enum, self._encode_enum),
            (datetime, _iso("datetime")),
            (date, _iso("date")),
            (time, _iso("time")),
            (timedelta, lambda v, path, depth: {TAG: "timedelta", "v": v.total_seconds()}),
            (Decimal, lambda v, path, depth: {TAG: "decimal", "v": str(v)}),
            (uuid.UUID, lambda v, path, depth: {TAG: "uuid", "v": str(v)}),
            ((bytes, bytearray), lambda v, path, depth: {TAG: "bytes", "v": base64.b64encode(bytes(v)).decode("ascii")}),
            (tuple, self._encode_tuple),
            ((set, frozenset), self._encode_set),
        )
        self._decoders: dict[str, Decoder] = {
            "dict": lambda v, tagged: {self._hashable(self.decode(k)): self.decode(item) for k, item in v},
            "job": lambda v, tagged: job_decoder(v),
            "enum": lambda v, tagged: resolve_class(tagged["cls"], self.allowed, enum.Enum)(self.decode(v)),
            "obj": lambda v, tagged: resolve_class(tagged["cls"], self.allowed).from_payload(self.decode(v)),  # type: ignore[attr-defined]
            "datetime": lambda v, tagged: datetime.fromisoformat(v),
            "date": lambda v, tagged: date.fromisoformat(v),
            "time": lambda v, tagged: time.fromisoformat(v),
            "timedelta": lambda v, tagged: timedelta(seconds=v),
            "decimal": lambda v, tagged: Decimal(v),
            "uuid": lambda v, tagged: uuid.UUID(v),
            "bytes": lambda v, tagged: base64.b64decode(v),
            "float": lambda v, tagged: float(v),
            "tuple": lambda v, tagged: tuple(self.decode(i) for i in v),
            "set": lambda v, tagged: {self._hashable(self.decode(i)) for i in v},
            "frozenset": lambda v, tagged: frozenset(self._hashable(self.decode(i)) for i in v),
        }

    # -- encoding -----------------------------------------------------------------
    def encode(self, value: Any, path: str, depth: int = 0) -> Any:
        """Make `value` JSON-safe; `path` names the attribute in error messages, `depth` its nesting."""
        if isinstance(value, enum.Enum):  # before the scalars: IntEnum and StrEnum are ints and strs
            return self._encode_tagged(value, path, depth)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            return check_text(value, path)
        if isinstance(value, int):
            return check_int(value, path)
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                return {TAG: "float", "v": repr(value)}
            return value
        check_depth(depth, path)
        if isinstance(value, list):
            return [self.encode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return self._encode_dict(value, path, depth)
        return self._encode_tagged(value, path, depth)

    def _encode_dict(self, value: dict, path: str, depth: int = 0) -> Any:
        if all(isinstance(k, str) for k in value) and TAG not in value:
            return {check_text(k, f"{path}<key>"): self.encode(v, f"{path}.{k}", depth + 1) for k, v in value.items()}
        return {TAG: "dict", "v": [[self.encode(k, f"{path}<key>", depth + 1), self.encode(v, f"{path}[{k!r}]", depth + 1)]
                                   for k, v in value.items()]}

    def _encode_tagged(self, value: Any, path: str, depth: int = 0) -> Any:
        for types, encoder in self._encoders:
            if isinstance(value, types):
                return encoder(value, path, depth)
        return self._encode_object(value, path, depth)

    def _encode_enum(self, value: enum.Enum, path: str, depth: int) -> Any:
        return {TAG: "enum", "cls": class_path(type(value)), "v": self.encode(value.value, path, depth + 1)}

    def _encode_tuple(self, value: tuple, path: str, depth: int) -> Any:
        return {TAG: "tuple", "v": [self.encode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]}

    def _encode_set(self, value: set | frozenset, path: str, depth: int) -> Any:
        items = [self.encode(v, f"{path}{{}}", depth + 1) for v in value]
        return {TAG: "frozenset" if isinstance(value, frozenset) else "set", "v": items}

    def _encode_object(self, value: Any, path: str, depth: int) -> Any:
        """An object of a class with `to_payload()` and a `from_payload()` classmethod; anything else is refused."""
        to_payload = getattr(type(value), "to_payload", None)
        if callable(to_payload) and callable(getattr(type(value), "from_payload", None)):
            return {TAG: "obj", "cls": class_path(type(value)), "v": self.encode(value.to_payload(), path, depth + 1)}
        raise SerializationError(
            f"attribute {path!r} holds a {type(value).__module__}.{type(value).__qualname__}, which cannot be "
            "queued; store JSON types, datetime, date, Decimal, UUID, Enum, set, tuple, bytes or a Job instead"
        )

    # -- decoding -----------------------------------------------------------------
    def decode(self, value: Any) -> Any:
        """Rebuild a value made by `encode`."""
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if isinstance(value, dict):
            tag = value.get(TAG)
            if tag is None:
                return {k: self.decode(v) for k, v in value.items()}
            return self._decode_tagged(tag, value)
        return value

    def _decode_tagged(self, tag: str, value: dict) -> Any:
        decoder = self._decoders.get(tag) if isinstance(tag, str) else None
        if decoder is None:
            raise InvalidPayloadError(f"unknown value tag {tag!r} in payload")
        return decoder(value.get("v"), value)

    @staticmethod
    def _hashable(value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value


def _iso(tag: str) -> Encoder:
    """Encode a datetime, date or time as its ISO text under `tag`."""
    return lambda v, path, depth: {TAG: tag, "v": v.isoformat()}
