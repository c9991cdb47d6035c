"""Turning the value sharing forms into the input the services (and the JSON API) take.

People type money in major units ("12,345.67"); the services take minor units, converted
exactly (``to_minor``: string arithmetic, no floats). Dates come from date inputs (ISO). What
cannot be read becomes a field error here, so the services only ever see well-typed input.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from werkzeug.datastructures import MultiDict

from ledger.currencies import exponent as currency_exponent
from marketplace.challenges.forms import to_minor
from marketplace.value.contributions import MAX_WEIGHT
from marketplace.value.schemas import MAX_VALUE

MAX_TEXT = 4_000


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def report_input(form: MultiDict, currency: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """A value report's fields (period dates, value in major units, evidence): the data for
    ``report_value``/``correct_report`` and the errors of what could not be read."""
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {"currency": currency}
    for name, label in (("period_start", "first"), ("period_end", "last")):
        day = _date(form.get(name))
        if day is None:
            errors[name] = [f"Enter the period's {label} day as a date (YYYY-MM-DD)."]
        data[name] = day
    exponent = currency_exponent(currency)
    amount = to_minor(form.get("value", "") or "", exponent)
    if isinstance(amount, str) or not 1 <= amount <= MAX_VALUE:
        places = f"at most {exponent} decimal places" if exponent else "no decimals"
        errors["value_amount"] = [
            f"Enter the value realised as a positive amount in {currency}, like 12,345.67 "
            f"({places})."
        ]
    data["value_amount"] = amount
    evidence = (form.get("evidence") or "").strip()
    if len(evidence) > MAX_TEXT:
        errors["evidence"] = [f"Keep the evidence note under {MAX_TEXT:,} characters."]
    data["evidence"] = evidence
    return data, errors


def weight_input(text: str | None) -> int | None:
    """A contribution's weight in basis points: a whole number from 1 to MAX_WEIGHT."""
    cleaned = (text or "").replace(",", "").strip()
    if not cleaned.isdecimal() or len(cleaned) > 8:
        return None
    weight = int(cleaned)
    return weight if 1 <= weight <= MAX_WEIGHT else None


def reason_input(form: MultiDict) -> tuple[str, dict[str, list[str]]]:
    reason = (form.get("reason") or "").strip()
    if not reason or len(reason) > MAX_TEXT:
        return reason, {"reason": [f"Say why (1 to {MAX_TEXT:,} characters)."]}
    return reason, {}
