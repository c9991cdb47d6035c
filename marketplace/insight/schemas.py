"""The JSON API's shapes for co-creator insight (marketplace/insight/api.py).

Counts and percentages are integers (percentages rounded down, null where the base is zero);
times are whole seconds; money is integer minor units, one entry per currency.
"""

from __future__ import annotations

import marshmallow as ma

from marketplace.pagination import MAX_CURSOR_LENGTH, MAX_PER_PAGE, PER_PAGE


class StageSchema(ma.Schema):
    key = ma.fields.String(metadata={"description": "views, accepted_terms, submitted, "
                                                    "decided or awarded"})  # fmt: skip
    label = ma.fields.String()
    rule = ma.fields.String(metadata={"description": "how the stage is counted"})
    count = ma.fields.Integer()
    conversion_percent = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "of the stage before; null for the first stage or from zero"},
    )
    overall_percent = ma.fields.Integer(
        allow_none=True, metadata={"description": "of the views; null when there were none"}
    )


class ResponseTimesSchema(ma.Schema):
    received = ma.fields.Integer(
        metadata={"description": "proposals sent to the seeker and not withdrawn"}
    )
    answered = ma.fields.Integer(metadata={"description": "of those, decided"})
    rate_percent = ma.fields.Integer(allow_none=True)
    median_seconds = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "time from submission to decision; of an even number of "
                                 "decisions, the later of the two middle ones"},
    )  # fmt: skip
    longest_seconds = ma.fields.Integer(allow_none=True)


class FunnelSchema(ma.Schema):
    challenge_id = ma.fields.Integer()
    title = ma.fields.String()
    status = ma.fields.String()
    stages = ma.fields.List(ma.fields.Nested(StageSchema))
    responses = ma.fields.Nested(ResponseTimesSchema)


class MoneySchema(ma.Schema):
    currency = ma.fields.String()
    amount = ma.fields.Integer(metadata={"description": "minor units"})


class SolverTypeSchema(ma.Schema):
    key = ma.fields.String(
        metadata={"description": "co_creator, promoter, supporter or transactor"}
    )
    name = ma.fields.String()
    rule = ma.fields.String(metadata={"description": "the rule the type is decided by"})


class SolverSchema(ma.Schema):
    user_id = ma.fields.Integer()
    name = ma.fields.String()
    proposals = ma.fields.Integer(
        attribute="proposal_count",
        metadata={"description": "proposals sent to the organization with the solver on the "
                                 "team (submitted, awarded or declined)"},
    )  # fmt: skip
    needs = ma.fields.Integer(
        attribute="need_count", metadata={"description": "the organization's needs taken part in"}
    )
    teams_led = ma.fields.Integer(
        attribute="teams_led_count",
        metadata={"description": "proposals sent that the solver led and someone else joined"},
    )
    awards = ma.fields.Integer(attribute="award_count")
    earned = ma.fields.List(
        ma.fields.Nested(MoneySchema),
        attribute="earned_money",
        metadata={"description": "their part of the awards, per currency"},
    )
    value_attributed = ma.fields.List(
        ma.fields.Nested(MoneySchema),
        attribute="value_money",
        metadata={"description": "their part of the organization's posted value reports"},
    )
    type = ma.fields.Nested(SolverTypeSchema)


class OrganizationRefSchema(ma.Schema):
    slug = ma.fields.String()
    name = ma.fields.String()


class OrganizationInsightSchema(ma.Schema):
    organization = ma.fields.Nested(OrganizationRefSchema)
    needs = ma.fields.List(
        ma.fields.Nested(FunnelSchema), attribute="funnels",
        metadata={"description": "the organization's needs, drafts aside, newest first"},
    )  # fmt: skip
    needs_next_cursor = ma.fields.String(
        attribute="needs.next_cursor",
        allow_none=True,
        metadata={"description": "pass as `needs_cursor` for the next page of needs"},
    )
    solvers = ma.fields.List(
        ma.fields.Nested(SolverSchema),
        metadata={"description": "a page of the solvers: by type, most awards, most proposals"},
    )
    solvers_next_cursor = ma.fields.String(
        attribute="solver_page.next_cursor",
        allow_none=True,
        metadata={"description": "pass as `solvers_cursor` for the next page of solvers"},
    )
    per_page = ma.fields.Integer(attribute="needs.per_page")
    type_counts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "type key -> how many of all the solvers have it"},
    )
    figures_as_of = ma.fields.DateTime(
        metadata={"description": "when the solvers' figures and type counts were computed "
                                 "(they are computed again shortly after each change)"},
    )  # fmt: skip
    typology = ma.fields.List(
        ma.fields.Nested(SolverTypeSchema),
        metadata={"description": "the types in order of precedence: a solver is the first "
                                 "whose rule matches"},
    )  # fmt: skip


def _cursor() -> ma.fields.String:
    return ma.fields.String(load_default=None, validate=ma.validate.Length(max=MAX_CURSOR_LENGTH))


class InsightQuerySchema(ma.Schema):
    """The pages of an organization's insight: needs and solvers page separately."""

    needs_cursor = _cursor()
    solvers_cursor = _cursor()
    per_page = ma.fields.Integer(
        load_default=PER_PAGE, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE)
    )
