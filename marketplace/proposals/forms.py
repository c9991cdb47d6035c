"""Turning the HTML proposal forms into what the services take.

People type shares as percentages ("60", "33.33"); the services take basis points. The
conversion is exact (``to_minor`` with two decimals, no floats).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.datastructures import MultiDict

from marketplace.challenges.forms import to_minor
from marketplace.text_rules import one_line

TEXT_FIELDS = ("title", "summary", "description", "approach")
PERCENT_MESSAGE = "Enter a percentage from 0 to 100, with at most two decimals (e.g. 33.33)."


class ProposalFormSchema(Schema):
    title = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=200, error="Give a title (at most 200 characters)."),
            one_line,
        ],
    )
    summary = fields.String(
        load_default="",
        validate=validate.Length(max=2_000, error="Keep the summary under 2,000 characters."),
    )
    description = fields.String(
        load_default="",
        validate=validate.Length(max=50_000, error="Keep this under 50,000 characters."),
    )
    approach = fields.String(
        load_default="",
        validate=validate.Length(max=50_000, error="Keep this under 50,000 characters."),
    )


def proposal_input(form: MultiDict) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(data, errors) from the proposal form; text is trimmed, the title must not be empty."""
    raw = {name: (form.get(name) or "").strip() for name in TEXT_FIELDS}
    try:
        data = ProposalFormSchema().load(raw)
    except ValidationError as error:
        return {}, error.normalized_messages()
    return data, {}


def proposal_values(proposal: Any) -> dict[str, str]:
    return {name: getattr(proposal, name) or "" for name in TEXT_FIELDS}


def percent_to_bp(text: str | None, blank: int | None = None) -> int | None:
    """'60' -> 6000, '33.33' -> 3333; blank text gives ``blank``; unreadable gives None."""
    text = (text or "").strip().rstrip("%").strip()
    if not text:
        return blank
    value = to_minor(text, 2)
    if not isinstance(value, int) or value > 10_000:
        return None
    return value


def shares_input(form: MultiDict, member_ids: list[int]) -> tuple[dict[int, int], list[str]]:
    """{member id: basis points} from inputs named ``share-<member id>``, or the problems."""
    shares: dict[int, int] = {}
    problems: list[str] = []
    for member_id in member_ids:
        value = percent_to_bp(form.get(f"share-{member_id}"), blank=None)
        if value is None:
            problems.append(PERCENT_MESSAGE)
        else:
            shares[member_id] = value
    return shares, sorted(set(problems))


def as_int(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


def percent(bp: int) -> str:
    """6000 -> '60.00 %'."""
    return f"{bp // 100}.{bp % 100:02d} %"
