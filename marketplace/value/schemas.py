"""Input and output shapes of the value sharing API: earnings, awards, contributions, value
reports. Money is in minor units (integers), weights in basis points of the original split."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from marketplace.challenges.schemas import StorableTextMixin
from marketplace.text_rules import FullMatch
from marketplace.value.contributions import MAX_WEIGHT

#: Realised value of one period, in minor units (ten trillion in a two-decimal currency).
MAX_VALUE = 10**15


def _text(maximum: int, required: bool = True) -> ma.fields.String:
    if required:
        return ma.fields.String(required=True, validate=validate.Length(min=1, max=maximum))
    return ma.fields.String(load_default="", validate=validate.Length(max=maximum))


# --- input ----------------------------------------------------------------------------------


class ContributionInputSchema(StorableTextMixin, ma.Schema):
    email = ma.fields.Email(required=True, validate=validate.Length(max=254))
    weight = ma.fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(1, MAX_WEIGHT),
        metadata={"description": "basis points of the original split (10000 = the whole team)"},
    )
    description = _text(4_000)


class ValueReportInputSchema(StorableTextMixin, ma.Schema):
    period_start = ma.fields.Date(required=True)
    period_end = ma.fields.Date(required=True, metadata={"description": "inclusive"})
    value_amount = ma.fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=1, max=MAX_VALUE),
        metadata={"description": "value realised in the period, minor units"},
    )
    currency = ma.fields.String(
        validate=FullMatch(r"^[A-Z]{3}$"),
        metadata={"description": "the award's currency (the default)"},
    )
    evidence = _text(4_000)


class CorrectionInputSchema(ValueReportInputSchema):
    reason = _text(4_000)


class ReversalInputSchema(StorableTextMixin, ma.Schema):
    reason = _text(4_000)


# --- output ---------------------------------------------------------------------------------


class EarningsLineSchema(ma.Schema):
    at = ma.fields.DateTime()
    kind = ma.fields.String(
        metadata={
            "description": "award, value_share, value_share_reversal, payout or payout_returned"
        }
    )
    currency = ma.fields.String()
    amount = ma.fields.Integer(metadata={"description": "minor units; negative takes away"})
    description = ma.fields.String()
    status = ma.fields.String()
    award_id = ma.fields.Integer(allow_none=True)
    challenge_id = ma.fields.Integer(allow_none=True)
    challenge_title = ma.fields.String(allow_none=True)
    proposal_id = ma.fields.Integer(allow_none=True)
    proposal_title = ma.fields.String(allow_none=True)
    prize_rank = ma.fields.Integer(allow_none=True)
    share_bp = ma.fields.Integer(allow_none=True)
    terms_version = ma.fields.Integer(allow_none=True)
    report_id = ma.fields.Integer(allow_none=True)
    period_start = ma.fields.Date(allow_none=True)
    period_end = ma.fields.Date(allow_none=True)
    weight = ma.fields.Integer(allow_none=True)
    total_weight = ma.fields.Integer(allow_none=True)
    batch_id = ma.fields.Integer(allow_none=True)


class EarningsSchema(ma.Schema):
    currency = ma.fields.String()
    owed = ma.fields.Integer(metadata={"description": "available to pay out, minor units"})
    pending = ma.fields.Integer(metadata={"description": "reserved by a payout on its way"})
    paid = ma.fields.Integer(metadata={"description": "paid out so far"})
    lines = ma.fields.List(ma.fields.Nested(EarningsLineSchema), metadata={"description":
                           "newest first; they add up to `owed`"})  # fmt: skip


class ContributionSchema(ma.Schema):
    id = ma.fields.Integer()
    award_id = ma.fields.Integer()
    user_id = ma.fields.Integer()
    name = ma.fields.Function(lambda c: c.user.name)
    kind = ma.fields.String(metadata={"description": "split (the locked split) or later"})
    weight = ma.fields.Integer(metadata={"description": "basis points of the original split"})
    description = ma.fields.String()
    recorded_at = ma.fields.DateTime()
    confirmed_at = ma.fields.DateTime(allow_none=True)


class ValueReportSchema(ma.Schema):
    id = ma.fields.Integer()
    award_id = ma.fields.Integer()
    period_start = ma.fields.Date()
    period_end = ma.fields.Date()
    value_amount = ma.fields.Integer(metadata={"description": "minor units"})
    currency = ma.fields.String()
    share_bp = ma.fields.Integer()
    share_amount = ma.fields.Integer(metadata={"description": "minor units"})
    shares = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "user id -> minor units"},
    )
    weights = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "user id -> confirmed weight the split used"},
    )
    evidence = ma.fields.String()
    status = ma.fields.String(metadata={"description": "posted or reversed"})
    corrects_id = ma.fields.Integer(allow_none=True)
    reported_at = ma.fields.DateTime()
    reversed_at = ma.fields.DateTime(allow_none=True)
    reversal_reason = ma.fields.String()


class ReportRowSchema(ValueReportSchema):
    due = ma.fields.Integer(metadata={"description": "what the seeker still owes, minor units"})
    corrected_by = ma.fields.Integer(allow_none=True)


class ValueTermSchema(ma.Schema):
    share_bp = ma.fields.Integer()
    first_day = ma.fields.Date(allow_none=True)
    last_day = ma.fields.Date(allow_none=True)


class AwardDetailSchema(ma.Schema):
    id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    prize_rank = ma.fields.Integer()
    amount = ma.fields.Integer(metadata={"description": "minor units"})
    currency = ma.fields.String()
    shares = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    ip_terms = ma.fields.String()
    ip_status = ma.fields.String()
    awarded_at = ma.fields.DateTime()
    value_term = ma.fields.Nested(ValueTermSchema)
    contributions = ma.fields.List(ma.fields.Nested(ContributionSchema))
    reports = ma.fields.List(ma.fields.Nested(ReportRowSchema))
