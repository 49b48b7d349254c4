"""Reading a JSON request body ourselves, for routes that must check something (auth, a
precondition) before the body is looked at: the same problems FastAPI would answer
(400 malformed JSON, 415 not JSON, 422 with `errors`), and an OpenAPI request body."""

from __future__ import annotations

import json

from fastapi import Request
from pydantic import BaseModel, ValidationError

from problems import Problem


def openapi_body(model: type[BaseModel], *, if_match: bool = False) -> dict:
    """`openapi_extra` declaring `model` as the required JSON body (see app.py for how
    its schema reaches components), and optionally the If-Match precondition header."""
    extra: dict = {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}
    if if_match:
        extra["parameters"] = [{"name": "If-Match", "in": "header", "required": True,
                                "description": "The ETag of your last read, or `*` (RFC 9110).",
                                "schema": {"type": "string", "minLength": 1}}]
    return extra


async def parse_json(request: Request, model: type[BaseModel]) -> BaseModel:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise Problem(415, "Unsupported Media Type", "Send the body as application/json.",
                      type_="/problems/unsupported-media-type")
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Problem(400, "Bad Request", "The body is not valid JSON.", type_="/problems/malformed-json") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{"loc": ["body", *[str(p) for p in e.get("loc", ())]], "msg": e.get("msg", ""),
                   "type": e.get("type", "")} for e in exc.errors()]
        raise Problem(422, "Unprocessable Content", "The request does not match the expected shape; see `errors`.",
                      type_="/problems/validation", extra={"errors": errors}) from None
