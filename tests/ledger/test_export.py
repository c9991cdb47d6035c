"""Formatting minor units for people and for hledger (exact, no floats), and the exports'
progress reports."""

from __future__ import annotations

import io

import pytest

import ledger
from ledger import format_minor


@pytest.mark.parametrize(
    ("amount", "currency", "plain", "grouped"),
    [
        (12345, "USD", "123.45", "123.45"),
        (5, "USD", "0.05", "0.05"),
        (-123456789, "EUR", "-1234567.89", "-1,234,567.89"),
        (500, "JPY", "500", "500"),
        (1234567, "JPY", "1234567", "1,234,567"),
        (1001, "KWD", "1.001", "1.001"),
        (0, "USD", "0.00", "0.00"),
    ],
)
def test_format_minor(amount: int, currency: str, plain: str, grouped: str) -> None:
    assert format_minor(amount, currency) == plain
    assert format_minor(amount, currency, grouped=True) == grouped


@pytest.mark.parametrize("export", [ledger.export_csv, ledger.export_hledger])
def test_exports_report_progress_without_changing_the_text(book, export) -> None:
    """``progress`` hears the rows written every ``every`` transfers read, then at the end;
    voided transfers count as read but are left out of the hledger journal."""
    for _ in range(6):
        book.fund(100)
    pending = book.move(book.escrow, book.payable, 50, pending=True).transfer_ids[0]
    ledger.void_pending(book.session, pending)
    book.session.flush()
    plain, reported = io.StringIO(), io.StringIO()
    heard: list[int] = []
    written = export(book.session, reported, progress=heard.append, every=3)
    assert written == export(book.session, plain)
    assert reported.getvalue() == plain.getvalue()
    if export is ledger.export_csv:
        assert heard == [3, 6, 7] and written == 7
    else:
        assert heard == [3, 6, 6] and written == 6
