"""Turning the HTML need form into the same input the JSON API takes.

People type money in major units ("12,500.00") and percentages ("12.5"); the API takes minor
units and basis points. The conversion is exact (string arithmetic, no floats); what cannot be
read is passed on as is, so the schema reports it against the right field.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from ledger.currencies import exponent as currency_exponent
from ledger.export import format_minor

DECIMAL = re.compile(r"^\d+(\.\d+)?$")


def to_minor(text: str, exponent: int) -> int | str:
    """'12,500.5' with exponent 2 -> 1250050. Unreadable or too precise: returned unchanged."""
    cleaned = text.replace(",", "").replace(" ", "").strip()
    if not DECIMAL.fullmatch(cleaned):
        return text
    whole, _, fraction = cleaned.partition(".")
    if len(fraction) > exponent:
        return text
    return int(whole + fraction.ljust(exponent, "0"))


def lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def items(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;\n]", text or "") if part.strip()]


def amounts(text: str) -> list[str]:
    """'10,000.00, 5,000.00' -> ['10,000.00', '5,000.00']: a comma inside a number groups
    thousands, a comma followed by a space (or a semicolon, or a new line) separates."""
    return [part.strip() for part in re.split(r",\s+|[;\n]", text or "") if part.strip()]


def flat_messages(errors: object) -> list[str]:
    """Marshmallow's nested errors ({0: {"weight": [...]}}) as plain sentences."""
    if isinstance(errors, str):
        return [errors]
    if isinstance(errors, dict):
        found = []
        for key, value in errors.items():
            prefix = f"Item {key + 1}: " if isinstance(key, int) else ""
            found.extend(prefix + message for message in flat_messages(value))
        return found
    if isinstance(errors, list | tuple):
        return [message for value in errors for message in flat_messages(value)]
    return []


NEED_TEXT_FIELDS = (
    "title", "summary", "background", "nice_to_have", "not_looking_for", "possible_approaches",
    "maturity", "deliverables", "category", "confidential_details", "visibility",
)  # fmt: skip


def need_input(form: MultiDict) -> dict[str, Any]:
    data: dict[str, Any] = {name: form.get(name, "") for name in NEED_TEXT_FIELDS}
    data["looking_for"] = lines(form.get("looking_for", ""))
    data["tags"] = items(form.get("tags", ""))
    return data


def terms_input(form: MultiDict, timezone: str) -> dict[str, Any]:
    currency = (form.get("currency") or "").strip().upper()
    exponent = currency_exponent(currency)
    criteria = []
    for line in lines(form.get("criteria", "")):
        name, _, weight = line.rpartition(":")
        criteria.append(
            {"name": name.strip(), "weight": int(weight) if weight.strip().isdigit() else weight}
        )
    data: dict[str, Any] = {
        "currency": currency,
        "prizes": [to_minor(p, exponent) for p in amounts(form.get("prizes", ""))],
        "partial_awards": form.get("partial_awards") == "on",
        "value_share_bp": to_minor(form.get("value_share_percent") or "0", 2),
        "value_share_months": _int(form.get("value_share_months") or "0"),
        "platform_fee_bp": to_minor(form.get("platform_fee_percent") or "0", 2),
        "ip_terms": form.get("ip_terms", ""),
        "excluded_countries": [c.upper() for c in items(form.get("excluded_countries", ""))],
        "exclude_org_members": form.get("exclude_org_members") == "on",
        "criteria": criteria,
        "max_team_size": _int(form.get("max_team_size") or "0"),
        "deadline": _local_to_iso(form.get("deadline", ""), timezone),
        "confidentiality": form.get("confidentiality", ""),
        "admins_may_read": form.get("admins_may_read") == "on",
        "notes": lines(form.get("notes", "")),
    }
    return data


def _int(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text


def _local_to_iso(text: str, timezone: str) -> str:
    """'2027-03-01T17:00' in the person's time zone -> an ISO 8601 moment with its offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.isoformat()


def need_values(challenge: Any) -> dict[str, str]:
    """The edit form's fields, filled from a saved need."""
    values = {name: getattr(challenge, name) or "" for name in NEED_TEXT_FIELDS}
    values["looking_for"] = "\n".join(challenge.looking_for)
    values["tags"] = ", ".join(challenge.tags)
    return values


def terms_values(terms: Any, timezone: str) -> dict[str, str]:
    """The terms form's fields, filled from a terms version (major units, percentages)."""
    deadline = terms.deadline.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "currency": terms.currency,
        "prizes": ", ".join(format_minor(p, terms.currency) for p in terms.prizes),
        "partial_awards": "on" if terms.partial_awards else "",
        "value_share_percent": format_minor(terms.value_share_bp, "USD"),
        "value_share_months": str(terms.value_share_months),
        "platform_fee_percent": format_minor(terms.platform_fee_bp, "USD"),
        "ip_terms": terms.ip_terms,
        "excluded_countries": ", ".join(terms.excluded_countries),
        "exclude_org_members": "on" if terms.exclude_org_members else "",
        "criteria": "\n".join(f"{c.name}: {c.weight}" for c in terms.criteria),
        "max_team_size": str(terms.max_team_size),
        "deadline": deadline,
        "confidentiality": terms.confidentiality,
        "admins_may_read": "on" if terms.admins_may_read else "",
        "notes": "\n".join(terms.notes),
    }


NEW_NEED_DEFAULTS = {
    "currency": "USD",
    "ip_terms": "non_exclusive_licence",
    "exclude_org_members": "on",
    "max_team_size": "5",
    "criteria": "Feasibility: 40\nImpact: 40\nCost: 20",
    "platform_fee_percent": "10.00",
    "visibility": "public",
    "maturity": "prototype",
}
