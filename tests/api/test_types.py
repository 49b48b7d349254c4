"""Request bodies are strict, and JSON's one number type is read as JSON Schema reads it:
an integral float is an integer, anything else that is not an int is refused."""

from typing import Annotated, Optional

import pytest
from pydantic import Field, ValidationError

from api.types import StrictBody


class Body(StrictBody):
    count: int
    limit: Annotated[int, Field(ge=0)] = 0
    maybe: Optional[int] = None
    either: int | None = None
    ratio: float | int = 0.5
    ids: list[int] = []
    bounded: Annotated[list[Annotated[int, Field(ge=1)]], Field(max_length=3)] | None = None
    name: str = ""


def test_integral_floats_are_taken_for_integers_wherever_an_int_is_expected():
    b = Body.model_validate({"count": 17.0, "limit": 2.0, "maybe": 3.0, "either": -4.0, "ids": [1.0, 2, 3.0],
                             "bounded": [1.0, 2.0]})
    assert (b.count, b.limit, b.maybe, b.either, b.ids, b.bounded) == (17, 2, 3, -4, [1, 2, 3], [1, 2])
    assert all(type(v) is int for v in (b.count, b.limit, b.maybe, b.either, *b.ids, *b.bounded))


def test_a_float_or_int_field_keeps_the_float():
    assert Body.model_validate({"count": 1, "ratio": 2.0}).ratio == 2.0


@pytest.mark.parametrize("body", [
    {"count": 17.5}, {"count": "17"}, {"count": True}, {"count": 2.0**53}, {"count": 1, "ids": [1.5]},
    {"count": 1, "limit": -1.0}, {"count": 1, "bounded": [0.0]}, {"count": 1, "name": 3},
    {"count": 1, "unknown": 1},
])
def test_anything_else_is_refused(body):
    with pytest.raises(ValidationError):
        Body.model_validate(body)


def test_a_body_that_is_not_an_object_is_refused_not_crashed_on():
    for data in ([1, 2], "x", 3, None):
        with pytest.raises(ValidationError):
            Body.model_validate(data)
