"""Input no page or endpoint should ever have to handle.

- Ids in URLs are bounded to 64 bits, so ``/challenges/99999999999999999999`` is a 404 rather
  than an out-of-range error from PostgreSQL.
- A NUL character in a form field or query argument is refused with a 400: PostgreSQL cannot
  store it, and no honest text contains it.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1


class BoundedIntegerConverter(IntegerConverter):
    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002, ANN001, ANN002, ANN003
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def refuse_nul_characters() -> None:
    if request.path.startswith("/api/"):
        return  # the API's schemas name the field
    fields = [*request.args.values(), *(request.form.values() if request.form else [])]
    if any("\x00" in value for value in fields):
        raise BadRequest("The request contains a NUL character.")


def register_input_guards(app: Flask) -> None:
    """Call before any blueprint is registered: rules pick their converter when added."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.before_request(refuse_nul_characters)
