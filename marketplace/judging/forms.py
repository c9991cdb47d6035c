"""Turning the judging forms into the input the judging services take.

What cannot be read (a score of "eight", a prize rank of "first") is passed on as is, so the
service reports it against the right field; only money is converted here, exactly, from the
major units people type to minor units.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from ledger.currencies import exponent as currency_exponent
from marketplace.challenges.forms import to_minor
from marketplace.errors import Invalid

ENTRY = re.compile(r"^criterion-(\d+)$")


def as_int(text: str | None) -> int | str:
    """'8' -> 8; anything else (empty, '7.5', 'eight') comes back stripped, for the service to
    refuse with its own message."""
    cleaned = (text or "").strip()
    return int(cleaned) if cleaned.isascii() and cleaned.isdigit() else cleaned


def review_entries(form: MultiDict) -> list[dict[str, Any]]:
    """The scoring form's rows (criterion-N, score-N, comment-N) as the service's entries."""
    rows = sorted(int(m.group(1)) for key in form if (m := ENTRY.fullmatch(key)))
    return [
        {
            "criterion": form.get(f"criterion-{n}", ""),
            "score": as_int(form.get(f"score-{n}")),
            "comment": form.get(f"comment-{n}", ""),
        }
        for n in rows
    ]


def award_amount(form: MultiDict, currency: str) -> int | None:
    """The typed amount in minor units, or None (the whole prize) when the field is empty or
    absent. Unreadable or too precise amounts are refused here, with the currency's format."""
    text = (form.get("amount") or "").strip()
    if not text:
        return None
    exponent = currency_exponent(currency)
    amount = to_minor(text, exponent)
    if isinstance(amount, str):
        example = "2,500" if exponent == 0 else "2,500." + "0" * exponent
        raise Invalid(
            "Please correct the highlighted fields.",
            {"amount": [f"Type the amount in {currency}, like {example}."]},
        )
    return amount


def shortlisted(form: MultiDict) -> bool:
    return form.get("shortlisted") in ("1", "on", "true", "yes")
