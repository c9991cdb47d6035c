"""Replaying an idempotency key: the same request is answered, any other is a conflict.

The rule (ledger.posting.post_journal): a replay must repeat the transfers, the description,
recorded_by, and effective_at when one is given. IdempotencyConflict.differs names what did not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

import ledger
from ledger import Journal, Transfer
from tests.ledger.conftest import Book

DAY = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def first(book: Book, **changes) -> ledger.PostedJournal:
    """Fund the escrow under key "fund", with ``changes`` to the first request."""
    request = {
        "amount": 500, "description": "prize pool", "recorded_by": "stripe", "effective_at": DAY,
    } | changes  # fmt: skip
    amount = request.pop("amount")
    return book.move(book.cash, book.escrow, amount, key="fund", code="FUND", **request)


def written(book: Book) -> tuple[int, int]:
    session = book.session
    return (
        session.scalar(select(func.count()).select_from(Journal)),
        session.scalar(select(func.count()).select_from(Transfer)),
    )


def test_the_same_request_is_replayed(book) -> None:
    posted = first(book)
    again = first(book, effective_at=DAY.astimezone(timezone(timedelta(hours=2))))
    assert again.replayed and again.transfer_ids == posted.transfer_ids
    assert first(book, effective_at=None).replayed  # left out: the time of posting, not a change
    assert written(book) == (1, 1)


@pytest.mark.parametrize(
    ("changes", "differs"),
    [
        ({"description": "prize pool, again"}, ("description",)),
        ({"recorded_by": "user:7"}, ("recorded_by",)),
        ({"effective_at": DAY + timedelta(microseconds=1)}, ("effective_at",)),
        ({"amount": 501}, ("transfers",)),
        ({"description": "", "recorded_by": "user:7"}, ("description", "recorded_by")),
    ],
)
def test_a_different_request_under_the_same_key_is_a_conflict(book, changes, differs) -> None:
    first(book)
    with pytest.raises(ledger.IdempotencyConflict) as refused:
        first(book, **changes)
    assert refused.value.differs == differs
    assert refused.value.key == "fund"
    assert written(book) == (1, 1)


def test_a_different_request_is_a_conflict_even_when_funds_ran_out_since(book) -> None:
    book.fund(500)
    book.move(book.escrow, book.payable, 500, key="award", description="prize 1")
    assert book.move(book.escrow, book.payable, 500, key="award", description="prize 1").replayed
    with pytest.raises(ledger.IdempotencyConflict) as refused:
        book.move(book.escrow, book.payable, 500, key="award", description="prize 2")
    assert refused.value.differs == ("description",)


def test_a_reversal_replayed_with_another_reason_is_a_conflict(book) -> None:
    book.fund(1_000)
    fee = book.move(book.escrow, book.fees, 50, code="FEE")
    ledger.reverse_transfer(book.session, fee.transfer_id, key="rev", recorded_by="t", reason="a")
    replay = ledger.reverse_transfer(
        book.session, fee.transfer_id, key="rev", recorded_by="t", reason="a"
    )
    assert replay.replayed
    with pytest.raises(ledger.IdempotencyConflict) as refused:
        ledger.reverse_transfer(
            book.session, fee.transfer_id, key="rev", recorded_by="t", reason="b"
        )
    assert refused.value.differs == ("description",)
    with pytest.raises(ledger.IdempotencyConflict) as refused:
        ledger.reverse_transfer(
            book.session, fee.transfer_id, key="rev", recorded_by="someone else", reason="a"
        )
    assert refused.value.differs == ("recorded_by",)
