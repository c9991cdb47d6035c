"""The JSON API's shapes for judging (marketplace/judging/api.py).

Scores are integers 0-10 per criterion; weighted and mean scores are integer hundredths
(680 = 6.80); money is integer minor units. Never floats.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from marketplace.challenges.schemas import MAX_AMOUNT, StorableTextMixin
from marketplace.pagination import KeysetPageSchema

MAX_ID = 9_223_372_036_854_775_807
MAX_FEEDBACK = 10_000


# --- input ---


class ReviewerInputSchema(ma.Schema):
    reviewer_id = ma.fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "a user id: an owner, manager or reviewer of the organization"},
    )


class ScoreInputSchema(ma.Schema):
    criterion = ma.fields.String(required=True, validate=validate.Length(min=1, max=120))
    score = ma.fields.Integer(strict=True, required=True, validate=validate.Range(0, 10))
    comment = ma.fields.String(required=True, validate=validate.Length(min=1, max=4_000))


class ReviewInputSchema(StorableTextMixin, ma.Schema):
    scores = ma.fields.List(
        ma.fields.Nested(ScoreInputSchema),
        required=True,
        validate=validate.Length(min=1, max=12),
        metadata={"description": "one score per criterion of the terms, each with a comment"},
    )


class ShortlistInputSchema(ma.Schema):
    shortlisted = ma.fields.Boolean(required=True)


class DecisionInputSchema(StorableTextMixin, ma.Schema):
    outcome = ma.fields.String(required=True, validate=validate.OneOf(["award", "decline"]))
    feedback = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_FEEDBACK),
        metadata={"description": "written feedback for the team: every decision carries it"},
    )
    prize_rank = ma.fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(min=1, max=10),
        metadata={"description": "awards only: which prize (1 = first)"},
    )
    amount = ma.fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(min=1, max=MAX_AMOUNT),
        metadata={
            "description": "awards only, minor units; default: what is left of the prize "
            "(less than the prize only where the terms allow partial awards)"
        },
    )

    @ma.validates_schema
    def _fits_the_outcome(self, data: dict, **_: object) -> None:
        if data.get("outcome") == "award" and data.get("prize_rank") is None:
            raise ma.ValidationError("Choose the prize to award.", "prize_rank")
        if data.get("outcome") == "decline":
            errors = {
                name: ["Only an award takes this."]
                for name in ("prize_rank", "amount")
                if data.get(name) is not None
            }
            if errors:
                raise ma.ValidationError(errors)


# --- output ---


class AssignmentSchema(ma.Schema):
    id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    reviewer_id = ma.fields.Integer()
    reviewer_name = ma.fields.String(attribute="reviewer.name")
    assigned_by_id = ma.fields.Integer()
    assigned_at = ma.fields.DateTime()


class ScoreSchema(ma.Schema):
    criterion = ma.fields.String()
    weight = ma.fields.Integer(metadata={"description": "percent; the weights add up to 100"})
    score = ma.fields.Integer()
    comment = ma.fields.String()


class ReviewSchema(ma.Schema):
    id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    reviewer_id = ma.fields.Integer()
    reviewer_name = ma.fields.String(attribute="reviewer.name")
    scores = ma.fields.List(ma.fields.Nested(ScoreSchema))
    weighted_centi = ma.fields.Integer(
        metadata={"description": "the weighted score in hundredths: 0-1000 is 0.00-10.00"}
    )
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class ShortlistSchema(ma.Schema):
    proposal_id = ma.fields.Integer(attribute="id")
    shortlisted = ma.fields.Boolean()


class AwardSchema(ma.Schema):
    id = ma.fields.Integer()
    decision_id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    prize_rank = ma.fields.Integer()
    amount = ma.fields.Integer(metadata={"description": "minor units"})
    fee = ma.fields.Integer(metadata={"description": "the platform fee on it, minor units"})
    currency = ma.fields.String()
    shares = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "user id -> minor units, by the team's locked split"},
    )
    journal_id = ma.fields.Integer(metadata={"description": "the ledger journal it posted"})
    ip_terms = ma.fields.String()
    ip_status = ma.fields.String(
        metadata={"description": "retained, pending_transfer or transferred"}
    )
    awarded_at = ma.fields.DateTime()


class DecisionSchema(ma.Schema):
    id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    outcome = ma.fields.String(metadata={"description": "award or decline"})
    feedback = ma.fields.String()
    decided_by_id = ma.fields.Integer()
    decided_at = ma.fields.DateTime()
    response_seconds = ma.fields.Integer(metadata={"description": "from submission to decision"})
    award = ma.fields.Nested(AwardSchema, allow_none=True)


class StandingSchema(ma.Schema):
    proposal_id = ma.fields.Integer(attribute="proposal.id")
    title = ma.fields.String(attribute="proposal.title")
    status = ma.fields.String(attribute="proposal.status")
    shortlisted = ma.fields.Boolean(attribute="proposal.shortlisted")
    submitted_at = ma.fields.DateTime(attribute="proposal.submitted_at", allow_none=True)
    reviews = ma.fields.Integer(metadata={"description": "how many reviews it has"})
    mean_centi = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "mean weighted score in hundredths (680 = 6.80); null unscored"},
    )
    spread_centi = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "highest minus lowest weighted score, hundredths"},
    )
    outcome = ma.fields.String(
        attribute="decision.outcome",
        allow_none=True,
        dump_default=None,
        metadata={"description": "award, decline, or null while undecided"},
    )
    prize_rank = ma.fields.Integer(
        attribute="decision.award.prize_rank", allow_none=True, dump_default=None
    )


class StandingPageSchema(KeysetPageSchema):
    items = ma.fields.List(ma.fields.Nested(StandingSchema))
