"""The "Prepare a batch" form: a currency code and a minimum typed in major units.

The minimum is converted to minor units exactly (string arithmetic, no floats), in the
currency's own exponent; what cannot be read gets a field error naming the right format.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.currencies import exponent as currency_exponent
from ledger.export import format_minor
from marketplace.challenges.forms import to_minor
from marketplace.payouts.batches import CURRENCY, MAX_MINIMUM


def parse_batch_form(form: Mapping[str, str]) -> tuple[str, int | None, dict[str, list[str]]]:
    """(currency, minimum in minor units or None, field errors)."""
    currency = (form.get("currency") or "").strip().upper()
    text = (form.get("minimum") or "").strip()
    errors: dict[str, list[str]] = {}
    if not CURRENCY.fullmatch(currency):
        errors["currency"] = ["Use a three-letter currency code like USD."]
        exponent = 2
    else:
        exponent = currency_exponent(currency)
    example = format_minor(10 ** (exponent + 2), currency or "USD")
    minimum = to_minor(text, exponent) if text else text
    if not isinstance(minimum, int):
        decimals = f"at most {exponent} decimals" if exponent else "no decimals"
        errors["minimum"] = [f"Type the minimum as an amount like {example} ({decimals})."]
        return currency, None, errors
    if not 1 <= minimum <= MAX_MINIMUM:
        most = format_minor(MAX_MINIMUM, currency or "USD", grouped=True)
        errors["minimum"] = [f"The minimum must be more than zero and at most {most}."]
        return currency, None, errors
    return currency, minimum, errors
