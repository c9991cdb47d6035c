"""The flask-smorest Api, adjusted so its error handler serves our problem responses."""

from __future__ import annotations

import marshmallow as ma
from flask.typing import ResponseReturnValue
from flask_smorest import Api
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
