"""Keyset pages: every row once, in order, whatever the ties; odd cursors are field errors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert, select

from marketplace.errors import Invalid
from marketplace.extensions import db
from marketplace.outbox import OutboxJob
from marketplace.pagination import decode_cursor, encode_cursor, keyset_page

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _jobs(app, count: int) -> list[int]:
    """``count`` outbox rows whose times repeat in threes (ties broken by id)."""
    with app.app_context():
        db.session.execute(delete(OutboxJob))
        if count:
            db.session.execute(
                insert(OutboxJob),
                [
                    {"function": f"job_{n}", "args": [], "created_at": START + timedelta(n // 3)}
                    for n in range(count)
                ],
            )
        db.session.flush()
        ids = list(db.session.scalars(select(OutboxJob.id)))
        db.session.commit()
    return ids


def _walk(app, per_page: int, descending: bool = True) -> list[list[int]]:
    pages, cursor = [], None
    with app.app_context():
        while True:
            page = keyset_page(
                select(OutboxJob.id, OutboxJob.created_at),
                [OutboxJob.created_at, OutboxJob.id],
                cursor=cursor,
                per_page=per_page,
                descending=descending,
            )
            pages.append([row.id for row in page.items])
            assert page.has_previous == (cursor is not None)
            if not page.has_next:
                return pages
            cursor = page.next_cursor


@pytest.mark.parametrize("count", [0, 1, 9, 10, 11, 23])
def test_pages_hold_every_row_once_in_order(app, count) -> None:
    _jobs(app, count)
    with app.app_context():
        expected = [
            row.id
            for row in db.session.execute(
                select(OutboxJob.id).order_by(OutboxJob.created_at.desc(), OutboxJob.id.desc())
            )
        ]
    pages = _walk(app, per_page=10)
    assert [row for page in pages for row in page] == expected
    assert all(len(page) == 10 for page in pages[:-1])
    # A list of exactly one page's length has no next page (the extra row tells, no count).
    assert len(pages) == max(1, -(-count // 10))


def test_ascending_pages_walk_the_other_way(app) -> None:
    _jobs(app, 7)
    newest_first = [row for page in _walk(app, 3) for row in page]
    oldest_first = [row for page in _walk(app, 3, descending=False) for row in page]
    assert oldest_first == list(reversed(newest_first))


def test_a_cursor_carries_times_and_ids_exactly() -> None:
    key = (datetime(2026, 11, 30, 20, 1, 2, 345678, tzinfo=UTC), 2**62, "liability:escrow")
    assert decode_cursor(encode_cursor(key), 3) == key


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        encode_cursor([1]),  # too short for a two-column order
        encode_cursor([1, 2, 3]),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b"[1.5, 2]").decode(),
        base64.urlsafe_b64encode(b"[true, 2]").decode(),
        base64.urlsafe_b64encode(b'[{"t": "2026-01-01T00:00:00"}, 2]').decode(),  # naive
        base64.urlsafe_b64encode(b"[99999999999999999999, 2]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode(),
    ],
)
def test_an_odd_cursor_is_a_field_error(token) -> None:
    with pytest.raises(Invalid) as refused:
        decode_cursor(token, 2)
    assert "cursor" in refused.value.errors


def test_a_cursor_with_a_null_is_refused(app) -> None:
    with app.app_context(), pytest.raises(Invalid):
        keyset_page(
            select(OutboxJob.id, OutboxJob.created_at),
            [OutboxJob.created_at, OutboxJob.id],
            cursor=encode_cursor([None, 1]),
            per_page=5,
        )
