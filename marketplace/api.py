"""The flask-smorest Api, adjusted so its error handler serves our problem responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
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


class MarketplaceApi(Api):
    """flask-smorest registers one app-wide HTTPException handler; ours answers HTML pages
    outside /api/ and JSON problems inside it, keeping headers such as ``Allow`` on a 405."""

    ERROR_SCHEMA = ProblemSchema

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
