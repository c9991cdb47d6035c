"""Input and output shapes for needs and terms, shared by the HTML forms and the JSON API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from marketplace.challenges.models import Maturity, Status, Visibility
from marketplace.challenges.terms import IP_TERMS, Criterion, Terms

MAX_AMOUNT = 10**12  # minor units: ten billion in a two-decimal currency
Money = ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT))


def _text(maximum: int, required: bool = False) -> ma.fields.String:
    if required:
        return ma.fields.String(required=True, validate=validate.Length(min=1, max=maximum))
    return ma.fields.String(load_default="", validate=validate.Length(max=maximum))


class CriterionSchema(ma.Schema):
    name = _text(120, required=True)
    weight = ma.fields.Integer(strict=True, required=True, validate=validate.Range(1, 100))


class TermsSchema(ma.Schema):
    """Terms as a seeker writes them. Percentages are basis points (1250 = 12.50 %)."""

    currency = ma.fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    prizes = ma.fields.List(
        ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT)),
        required=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "prize amounts by rank, minor units"},
    )
    partial_awards = ma.fields.Boolean(load_default=False)
    value_share_bp = ma.fields.Integer(
        strict=True, load_default=0, validate=validate.Range(0, 10_000)
    )
    value_share_months = ma.fields.Integer(
        strict=True, load_default=0, validate=validate.Range(0, 120)
    )
    platform_fee_bp = ma.fields.Integer(
        strict=True, load_default=0, validate=validate.Range(0, 5_000)
    )
    ip_terms = ma.fields.String(required=True, validate=validate.OneOf(IP_TERMS))
    excluded_countries = ma.fields.List(
        ma.fields.String(validate=validate.Regexp(r"^[A-Z]{2}$")),
        load_default=list,
        validate=validate.Length(max=250),
    )
    exclude_org_members = ma.fields.Boolean(load_default=True)
    criteria = ma.fields.List(
        ma.fields.Nested(CriterionSchema), required=True, validate=validate.Length(min=1, max=12)
    )
    max_team_size = ma.fields.Integer(strict=True, load_default=5, validate=validate.Range(1, 20))
    deadline = ma.fields.AwareDateTime(required=True)
    confidentiality = _text(5_000)
    notes = ma.fields.List(_text(2_000, required=True), load_default=list)

    @ma.validates_schema
    def _rules(self, data: dict, **_: object) -> None:
        criteria = data.get("criteria") or []
        if criteria and sum(c["weight"] for c in criteria) != 100:
            raise ma.ValidationError("The criteria weights must add up to 100.", "criteria")
        if data.get("value_share_bp") and not data.get("value_share_months"):
            raise ma.ValidationError(
                "Say for how many months the value share runs.", "value_share_months"
            )

    @ma.post_load
    def _to_terms(self, data: dict, **_: object) -> Terms:
        return Terms(
            currency=data["currency"],
            prizes=tuple(data["prizes"]),
            partial_awards=data["partial_awards"],
            value_share_bp=data["value_share_bp"],
            value_share_months=data["value_share_months"],
            platform_fee_bp=data["platform_fee_bp"],
            ip_terms=data["ip_terms"],
            excluded_countries=tuple(sorted(set(data["excluded_countries"]))),
            exclude_org_members=data["exclude_org_members"],
            criteria=tuple(Criterion(c["name"], c["weight"]) for c in data["criteria"]),
            max_team_size=data["max_team_size"],
            deadline=data["deadline"],
            confidentiality=data["confidentiality"],
            notes=tuple(data["notes"]),
        )


class NeedSchema(ma.Schema):
    """The need statement itself (Connect + Develop style). Long fields take Markdown."""

    title = _text(200, required=True)
    summary = _text(2_000, required=True)
    background = _text(20_000)
    looking_for = ma.fields.List(
        _text(500, required=True),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "success criteria"},
    )
    nice_to_have = _text(10_000)
    not_looking_for = _text(10_000)
    possible_approaches = _text(10_000)
    maturity = ma.fields.String(required=True, validate=validate.OneOf([m.value for m in Maturity]))
    deliverables = _text(10_000)
    category = _text(60, required=True)
    tags = ma.fields.List(
        ma.fields.String(validate=validate.Regexp(r"^[\w][\w .+#-]{0,39}$")),
        load_default=list,
        validate=validate.Length(max=20),
    )
    confidential_details = _text(20_000)
    visibility = ma.fields.String(
        load_default=Visibility.PUBLIC, validate=validate.OneOf([v.value for v in Visibility])
    )


class NewChallengeSchema(NeedSchema):
    organization = ma.fields.String(required=True, metadata={"description": "organization slug"})
    terms = ma.fields.Nested(TermsSchema, required=True)


class SearchSchema(ma.Schema):
    q = ma.fields.String(load_default="", validate=validate.Length(max=200))
    category = ma.fields.String(load_default="", validate=validate.Length(max=60))
    maturity = ma.fields.String(
        load_default="", validate=validate.OneOf(["", *(m.value for m in Maturity)])
    )
    status = ma.fields.String(
        load_default="open", validate=validate.OneOf(["", "any", *(s.value for s in Status)])
    )
    organization = ma.fields.String(load_default="", validate=validate.Length(max=60))
    min_reward = ma.fields.Integer(load_default=None, validate=validate.Range(0, MAX_AMOUNT))
    max_reward = ma.fields.Integer(load_default=None, validate=validate.Range(0, MAX_AMOUNT))
    deadline_after = ma.fields.AwareDateTime(load_default=None)
    deadline_before = ma.fields.AwareDateTime(load_default=None)
    sort = ma.fields.String(
        load_default="deadline",
        validate=validate.OneOf(["deadline", "newest", "reward", "relevance"]),
    )
    page = ma.fields.Integer(load_default=1, validate=validate.Range(1, 10_000))
    per_page = ma.fields.Integer(load_default=20, validate=validate.Range(1, 100))
