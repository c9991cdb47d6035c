"""Keyset pagination: long lists are read a page at a time after the last row shown.

``OFFSET`` makes the database walk every row before the page, and an exact ``count(*)`` walks
all of them; on a list of a million transfers both grow with the data. A keyset page instead
asks for the rows after the sort key of the last row shown (``WHERE (effective_at, id) <
(:at, :id) ORDER BY effective_at DESC, id DESC LIMIT n + 1``), which an index on the sort
columns answers in the same time whatever the list's length. The key travels as an opaque
``cursor`` string in the URL (Stripe's ``starting_after``, GitHub's ``after``); one extra row
tells whether a next page exists, so no count is needed.

Views and API endpoints parse ``cursor`` and ``per_page`` with ``CursorQuerySchema``; a
service calls ``keyset_page`` with its query and its sort columns and returns the
``KeysetPage`` (the API serialises it with ``KeysetPageSchema``'s fields).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import marshmallow as ma
from flask import flash
from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from marketplace.errors import Invalid
from marketplace.extensions import db

T = TypeVar("T")

PER_PAGE = 50
MAX_PER_PAGE = 200
#: The longest cursor accepted: a key of a few columns is far shorter.
MAX_CURSOR_LENGTH = 500

INVALID_CURSOR = "Not a valid cursor: follow the link of the page before."


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """One page of a list in its sort order, and the cursor of the page after it (or None)."""

    items: list[T]
    per_page: int
    next_cursor: str | None
    #: True when this page was asked for with a cursor (there are rows before it).
    has_previous: bool = False

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None


def encode_cursor(key: Sequence[Any]) -> str:
    """An opaque, URL-safe token for a sort key (ints, strings, datetimes, None)."""
    values = [{"t": value.isoformat()} if isinstance(value, datetime) else value for value in key]
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, width: int) -> tuple[Any, ...]:
    """The sort key a cursor carries; Invalid (a field error on ``cursor``) for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != width:
            raise ValueError("wrong width")
        key = tuple(_decode_value(value) for value in values)
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise Invalid(INVALID_CURSOR, {"cursor": [INVALID_CURSOR]}) from None
    return key


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"t"} and isinstance(value["t"], str):
        moment = datetime.fromisoformat(value["t"])
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment
    if isinstance(value, bool) or not isinstance(value, int | str | None):
        raise ValueError("not a key value")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ValueError("out of range")
    return value


def keyset_page(
    query: Select,
    order: Sequence[ColumnElement | InstrumentedAttribute],
    *,
    cursor: str | None,
    per_page: int,
    descending: bool = True,
    key: Callable[[Any], Sequence[Any]] | None = None,
    scalars: bool = False,
) -> KeysetPage:
    """Run ``query`` for the page after ``cursor``, ordered by ``order`` (all one direction).

    The last column of ``order`` must be unique (an id) so that the order is total. ``key``
    gives a row's sort key (by default the row's first ``len(order)`` columns are read by the
    columns' names); ``scalars`` returns the first column of each row (an ORM object).
    """
    columns = list(order)
    if cursor:
        after = decode_cursor(cursor, len(columns))
        if any(value is None for value in after):
            raise Invalid(INVALID_CURSOR, {"cursor": [INVALID_CURSOR]})
        position = tuple_(*columns)
        pairs = zip(after, columns, strict=True)
        bound = tuple_(*(literal(value, column.type) for value, column in pairs))
        query = query.where(position < bound if descending else position > bound)
    sort = [column.desc() if descending else column.asc() for column in columns]
    result = db.session.execute(query.order_by(*sort).limit(per_page + 1))
    rows = list(result.scalars() if scalars else result)
    more = len(rows) > per_page
    rows = rows[:per_page]
    next_cursor = None
    if more:
        last = rows[-1]
        values = key(last) if key else [getattr(last, column.key) for column in columns]
        next_cursor = encode_cursor(values)
    return KeysetPage(rows, per_page, next_cursor, has_previous=bool(cursor))


class CursorQuerySchema(ma.Schema):
    """``cursor`` and ``per_page`` of a keyset list; subclass it to add a list's filters."""

    cursor = ma.fields.String(
        load_default=None,
        validate=ma.validate.Length(max=MAX_CURSOR_LENGTH),
        metadata={"description": "the `next_cursor` of the page before; leave out for the first"},
    )
    per_page = ma.fields.Integer(
        load_default=PER_PAGE, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE)
    )


class KeysetPageSchema(ma.Schema):
    """The paging fields of a keyset page; subclass it and add ``items`` (Nested, many)."""

    per_page = ma.fields.Integer()
    next_cursor = ma.fields.String(
        allow_none=True,
        metadata={"description": "pass as `cursor` for the next page; null on the last page"},
    )


def page_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """``cursor`` and ``per_page`` of a query string (an HTML page's); Invalid for bad ones."""
    given = {name: args[name] for name in ("cursor", "per_page") if name in args}
    try:
        return CursorQuerySchema().load(given)
    except ma.ValidationError as error:
        raise Invalid("Please correct the highlighted fields.", error.messages) from None


def html_page(load: Callable[[str | None, int], T], args: Mapping[str, Any]) -> T:
    """``load(cursor, per_page)`` for an HTML list; a bad cursor or per_page is a message
    (flashed) above the list's first page, never an error page."""
    try:
        given = page_args(args)
        return load(given["cursor"], given["per_page"])
    except Invalid as error:
        if not set(error.errors) & {"cursor", "per_page"}:
            raise
        flash(" ".join(m for ms in error.errors.values() for m in ms), "error")
        return load(None, PER_PAGE)
