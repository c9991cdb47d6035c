"""The flask-smorest Api, adjusted so its error handler serves our problem responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from apispec import BasePlugin
from flask.typing import ResponseReturnValue
from flask_smorest import Api, Blueprint
from werkzeug.exceptions import HTTPException

from marketplace.errors import handle_http_exception


class ProblemSchema(ma.Schema):
    type = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    errors = ma.fields.Dict(keys=ma.fields.String())


#: Every write accepts an idempotency key (marketplace.idempotency.hooks); a replayed answer
#: says so in the other header.
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY_MAX = 255
UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})
_PROBLEM = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": IDEMPOTENCY_HEADER,
    "required": False,
    "description": "Makes a retry safe: the first answer under a key (2xx or 4xx) is stored "
    "for 24 hours and replayed, with `Idempotent-Replayed: true`, to the same request (method, "
    "path, query and body) under the same key; the work is not done again. Keys are per user. "
    "Input the schema refuses, and 5xx answers, are not stored: retry under the same key.",
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": IDEMPOTENCY_KEY_MAX,
        "pattern": "^[!-~]+$",
    },
}
_IDEMPOTENCY_PROBLEMS = {
    "400": "The Idempotency-Key header is not 1 to 255 visible ASCII characters",
    "409": "A request with this Idempotency-Key is still being processed",
    "422": "This Idempotency-Key was used for another request (method, path or body)",
}


class IdempotencyKeyPlugin(BasePlugin):
    """Declares the ``Idempotency-Key`` header and its problem answers on every write."""

    def operation_helper(
        self, path: str | None = None, operations: dict | None = None, **kwargs: Any
    ) -> None:
        for method, operation in (operations or {}).items():
            if method not in UNSAFE_METHODS:
                continue
            operation.setdefault("parameters", []).append(dict(_IDEMPOTENCY_PARAMETER))
            responses = operation.setdefault("responses", {})
            for code, description in _IDEMPOTENCY_PROBLEMS.items():
                documented = responses.get(code) or responses.get(int(code))
                if documented is None:
                    responses[code] = {"description": description, "content": _PROBLEM}
                elif "$ref" not in documented:
                    documented["description"] = f"{documented['description']}; or: {description}"


class MarketplaceApi(Api):
    """flask-smorest registers one app-wide HTTPException handler; ours answers HTML pages
    outside /api/ and JSON problems inside it, keeping headers such as ``Allow`` on a 405."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self) -> None:
        super().__init__(spec_kwargs={"extra_plugins": [IdempotencyKeyPlugin()]})

    def handle_http_exception(self, error: HTTPException) -> ResponseReturnValue:
        return handle_http_exception(error)


#: Ids are 64-bit: a larger number in a path is no resource (404), not a database error.
ID = "int(max=9223372036854775807)"


def problem_responses(blp: Blueprint, descriptions: dict[int, str]) -> Callable[..., Callable]:
    """A ``problems(*codes, _409="...")`` decorator for ``blp``'s operations: it documents the
    problem answers an operation can give, ``descriptions`` being the area's general wording
    and ``_<code>`` notes refining it for one operation."""

    def problems(*codes: int, **notes: str) -> Callable:
        def decorate(function: Callable) -> Callable:
            for code in codes:
                description = notes.get(f"_{code}") or descriptions[code]
                function = blp.alt_response(code, schema=ProblemSchema, description=description)(
                    function
                )
            return function

        return decorate

    return problems


class Annotated:
    """An object as a response schema sees it, with a few attributes added."""

    def __init__(self, wrapped: object, **extra: object) -> None:
        self._wrapped = wrapped
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)
