"""Formatting minor units for people and for hledger: exact, no floats."""

from __future__ import annotations

import pytest

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
