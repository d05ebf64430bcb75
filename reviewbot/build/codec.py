"""JSON for the build stage's plain data, so jobs can be recorded and shipped (pure).

`dump(obj)` turns a frozen dataclass (nested dataclasses, tuples, enums, dicts) into
JSON-able values; `load(cls, data)` rebuilds it from its type hints, so a payload that
went through the job store or a Dask worker comes back as the same value.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from functools import cache
from typing import Any, TypeVar, get_args, get_origin

T = TypeVar("T")


def dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {str(k): dump(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot encode {type(value).__name__}")


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def load(kind: Any, data: Any) -> Any:
    """Rebuild a value of type `kind` (a class or a typing form) from dump's output."""
    origin = get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = get_args(kind)
        if data is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return load(option, data)
            except (TypeError, ValueError, KeyError):
                continue
        raise TypeError(f"{data!r} fits none of {kind}")
    if origin is tuple:
        args = get_args(kind)
        if not isinstance(data, list):
            raise TypeError(f"expected a list for {kind}, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(load(args[0], v) for v in data)
        if len(args) != len(data):
            raise ValueError(f"expected {len(args)} items for {kind}")
        return tuple(load(a, v) for a, v in zip(args, data, strict=True))
    if origin is dict:
        key_type, value_type = get_args(kind)
        if not isinstance(data, dict):
            raise TypeError(f"expected an object for {kind}")
        return {load(key_type, k): load(value_type, v) for k, v in data.items()}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise TypeError(f"expected an object for {kind.__name__}")
        hints = _hints(kind)
        fields = {f.name for f in dataclasses.fields(kind) if f.init}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"unknown fields for {kind.__name__}: {sorted(unknown)}")
        return kind(**{name: load(hints[name], v) for name, v in data.items()})
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(data)
    if kind is Any:
        return data
    if kind is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if isinstance(kind, type) and isinstance(data, kind):
        return data
    raise TypeError(f"expected {kind}, got {data!r}")


def load_as(cls: type[T], data: Any) -> T:
    value: T = load(cls, data)
    return value
