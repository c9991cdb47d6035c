"""Input no page or endpoint should ever have to handle.

- Ids in URLs are bounded to 64 bits, so ``/challenges/99999999999999999999`` is a 404 rather
  than an out-of-range error from PostgreSQL.
- A NUL character in the path is a 404 everywhere (``/o/%00`` names nothing; PostgreSQL
  cannot even compare it), before any query runs. In a form field or a query argument of a
  page it is a 400: no honest text contains it. (The API's schemas name the field instead.)
- A JSON body is read once, bounded: larger than ``MAX_JSON_BYTES`` is a 413, nested deeper
  than ``MAX_JSON_DEPTH`` a 400, before any parser recurses into it (5,000 nested arrays
  would exhaust Python's recursion limit).
"""

from __future__ import annotations

import re

from flask import Flask, request
from werkzeug.exceptions import BadRequest, NotFound, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1
MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class BoundedIntegerConverter(IntegerConverter):
    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002, ANN001, ANN002, ANN003
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def refuse_nul_characters() -> None:
    if "\x00" in request.path:
        raise NotFound("No page has a NUL character in its address.")
    if request.path.startswith("/api/"):
        return  # the API's schemas name the field
    fields = [
        *request.args.keys(), *request.args.values(),
        *(request.form.values() if request.form else []),
    ]  # fmt: skip
    if any("\x00" in value for value in fields):
        raise BadRequest("The request contains a NUL character.")


def json_depth(data: bytes, stop_above: int = MAX_JSON_DEPTH) -> int:
    """How deeply arrays and objects nest in ``data`` (strings skipped), counting no further
    than ``stop_above + 1``; linear in the size, never recursive."""
    depth = deepest = 0
    for bracket in _BRACKETS.finditer(_STRINGS.sub(b'""', data)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    break
        else:
            depth -= 1
    return deepest


def bound_json_bodies() -> None:
    if not request.is_json:
        return
    limit = MAX_JSON_BYTES
    if (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(f"A JSON body may hold at most {limit // 1024} KB.")
    data = request.get_data(cache=True)  # kept for the parsers that read it next
    if len(data) > limit:
        raise RequestEntityTooLarge(f"A JSON body may hold at most {limit // 1024} KB.")
    if json_depth(data) > MAX_JSON_DEPTH:
        raise BadRequest(f"The JSON body nests arrays and objects more than {MAX_JSON_DEPTH} "
                         "levels deep.")  # fmt: skip


def register_input_guards(app: Flask) -> None:
    """Call before any blueprint is registered: rules pick their converter when added."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.before_request(refuse_nul_characters)
    app.before_request(bound_json_bodies)
