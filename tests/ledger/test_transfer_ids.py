"""Every entry point that takes a transfer or account id refuses one it cannot find the same way.

Whatever the id: unknown, out of the 64-bit range (which SQLite cannot even bind), or not an
int at all (``True`` would otherwise be read as transfer 1).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

import ledger
from ledger import NewTransfer, Transfer
from tests.ledger.conftest import Book

NOT_IDS = [424242, 0, -1, 2**63, -(2**63) - 1, "1", None, True, 1.0]


def _reverse(book: Book, ref: object) -> None:
    ledger.reverse_transfer(book.session, ref, key="rev", recorded_by="t")


def _post(book: Book, ref: object) -> None:
    ledger.post_pending(book.session, ref)


def _void(book: Book, ref: object) -> None:
    ledger.void_pending(book.session, ref)


def _journal_reversing(book: Book, ref: object) -> None:
    ledger.post_journal(
        book.session,
        [NewTransfer(book.fees.id, book.escrow.id, 5, "REVERSAL", reverses=ref)],
        key="reversing",
        recorded_by="t",
    )


ENTRY_POINTS: dict[str, Callable[[Book, object], None]] = {
    "reverse_transfer": _reverse,
    "post_pending": _post,
    "void_pending": _void,
    "post_journal(reverses=...)": _journal_reversing,
}


CASES = [
    pytest.param(entry_point, ref, id=f"{entry_point}-{ref!r}")
    for entry_point in ENTRY_POINTS
    for ref in NOT_IDS
    if not (ref is None and entry_point.startswith("post_journal"))  # None: reverses nothing
]


@pytest.mark.parametrize(("entry_point", "ref"), CASES)
def test_an_id_that_names_no_transfer_is_transfer_not_found(book, entry_point, ref) -> None:
    book.fund(1_000)
    book.move(book.escrow, book.fees, 50, code="FEE")
    with pytest.raises(ledger.TransferNotFound) as refused:
        ENTRY_POINTS[entry_point](book, ref)
    assert refused.value.ref == ref
    assert book.session.scalar(select(func.count()).select_from(Transfer)) == 2


def test_a_journal_reversing_a_transfer_that_was_never_written_is_transfer_not_found(
    book,
) -> None:
    """Was a raw IntegrityError on SQLite and NotReversible on PostgreSQL."""
    book.fund(1_000)
    fee = book.move(book.escrow, book.fees, 50, code="FEE")
    missing = fee.transfer_id + 1_000
    with pytest.raises(ledger.TransferNotFound) as refused:
        _journal_reversing(book, missing)
    assert refused.value.ref == missing


@pytest.mark.parametrize("ref", [2**63, 0, "1", True])
def test_an_account_id_out_of_range_is_account_not_found(book, ref) -> None:
    with pytest.raises(ledger.AccountNotFound) as refused:
        ledger.post_transfer(
            book.session, debit=ref, credit=book.cash.id, amount=1, code="X", key="k",
            recorded_by="t",
        )  # fmt: skip
    assert refused.value.ref == ref
    assert book.session.scalar(select(func.count()).select_from(Transfer)) == 0
