"""What request bodies share. Bodies are strict (a string is not a number), but JSON has
one number type: an integer field accepts 17.0 as JSON Schema's "integer" does (and the
OpenAPI document promises), and nothing else that is not an integer."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


def _takes_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return _takes_int(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        return any(_takes_int(a) for a in args) and float not in args
    return False


def _int_list(annotation: Any) -> bool:
    """list[int] (possibly constrained, Annotated, or Optional)."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _int_list(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_int_list(a) for a in typing.get_args(annotation))
    return typing.get_origin(annotation) is list and _takes_int(typing.get_args(annotation)[0])


def _integral(value: Any) -> bool:
    return isinstance(value, float) and value.is_integer() and abs(value) < 2**53


class StrictBody(BaseModel):
    """Unknown fields refused, no type coercion, integral floats taken for integers."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_floats(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = data
        for name, info in cls.model_fields.items():
            key = info.alias or name
            value = data.get(key)
            if _integral(value) and _takes_int(info.annotation):
                if out is data:
                    out = dict(data)
                out[key] = int(value)
            elif isinstance(value, list) and any(_integral(v) for v in value) and _int_list(info.annotation):
                if out is data:
                    out = dict(data)
                out[key] = [int(v) if _integral(v) else v for v in value]
        return out
