"""Input and output shapes for needs and terms, shared by the HTML forms and the JSON API."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from marketplace.challenges.models import Maturity, Status, Visibility
from marketplace.challenges.terms import IP_TERMS, Terms
from marketplace.pagination import KeysetPageSchema
from marketplace.payments.currencies import validate_currency
from marketplace.text_rules import FullMatch, one_line

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

    currency = ma.fields.String(
        required=True,
        validate=[FullMatch(r"^[A-Z]{3}$"), validate_currency],
        metadata={"description": "an ISO 4217 code the payment provider accepts"},
    )
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
        ma.fields.String(validate=FullMatch(r"^[A-Z]{2}$")),
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
    admins_may_read = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "platform admins may read proposals in full, not only metadata"},
    )
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
        return Terms.from_json(data)


class NeedSchema(ma.Schema):
    """The need statement itself (Connect + Develop style). Long fields take Markdown."""

    title = ma.fields.String(required=True, validate=[validate.Length(min=1, max=200), one_line])
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
        ma.fields.String(validate=FullMatch(r"^[\w][\w .+#-]{0,39}$")),
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


# --- The JSON API (marketplace/challenges/api.py): its input, query and output shapes. ---


def _unstorable_fields(schema: ma.Schema, data: object) -> list[str]:
    """Top-level fields of ``data`` whose text (at any depth) a database cannot store: NUL
    characters (PostgreSQL refuses them) and unpaired surrogates (not encodable as UTF-8)."""

    def bad(value: object) -> bool:
        if isinstance(value, str):
            if "\x00" in value:
                return True
            try:
                value.encode()
            except UnicodeEncodeError:
                return True
            return False
        if isinstance(value, dict):
            return any(bad(k) or bad(v) for k, v in value.items())
        if isinstance(value, list | tuple):
            return any(bad(v) for v in value)
        return False

    if not hasattr(data, "get"):
        return []
    names = (field.data_key or name for name, field in schema.fields.items())
    return sorted(name for name in names if bad(data.get(name)))


class StorableTextMixin:
    """Refuses text no database column can hold, with a field error instead of a 500."""

    @ma.pre_load
    def _refuse_unstorable_text(self, data: object, **_: object) -> object:
        fields = _unstorable_fields(self, data)  # type: ignore[arg-type]
        if fields:
            message = "Text may not contain NUL characters or unpaired surrogates."
            raise ma.ValidationError({name: [message] for name in fields})
        return data


#: Documents in the OpenAPI schema that NUL characters are refused (PostgreSQL cannot take them).
NO_NUL = FullMatch(r"^[^\x00]*$", error="Text may not contain NUL characters.")


class ChallengeQuerySchema(StorableTextMixin, SearchSchema):
    """Query arguments of GET /api/v1/challenges (status defaults to open; "any" for all)."""

    q = ma.fields.String(load_default="", validate=[validate.Length(max=200), NO_NUL])
    category = ma.fields.String(load_default="", validate=[validate.Length(max=60), NO_NUL])
    organization = ma.fields.String(load_default="", validate=[validate.Length(max=60), NO_NUL])


class ChallengeCreateSchema(StorableTextMixin, NewChallengeSchema):
    """A new draft: the need statement, the organization's slug and the first terms."""


class NeedChangesSchema(StorableTextMixin, NeedSchema):
    """Fields of the need statement to change (a draft only); loaded with ``partial=True``."""


class TermsAmendmentSchema(StorableTextMixin, TermsSchema):
    """A whole new terms version, with a note on what changed and why."""

    change_note = _text(2_000)

    @ma.post_load
    def _to_terms(self, data: dict, **kwargs: object) -> dict:  # replaces TermsSchema's hook
        note = data.pop("change_note")
        return {"terms": TermsSchema._to_terms(self, data, **kwargs), "change_note": note}


class FundingInputSchema(ma.Schema):
    amount = ma.fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(min=1, max=MAX_AMOUNT),
        metadata={
            "description": "minor units; default: what escrow still lacks. More than escrow "
            "lacks is refused, unless `amendment_prize_total` makes this a top-up"
        },
    )
    amendment_prize_total = ma.fields.Integer(
        strict=True,
        load_default=None,
        validate=validate.Range(min=1, max=MAX_AMOUNT),
        metadata={
            "description": "a top-up for an amendment of an open need: the prize total (minor "
            "units) of the amendment you are about to publish; escrow may then take what "
            "that amendment will need (prizes and fee)"
        },
    )


class InvitationInputSchema(StorableTextMixin, ma.Schema):
    email = ma.fields.Email(required=True, validate=validate.Length(max=254))
    name = _text(120)


class RedeemInputSchema(StorableTextMixin, ma.Schema):
    token = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class QuestionInputSchema(StorableTextMixin, ma.Schema):
    question = _text(4_000, required=True)


class AnswerInputSchema(StorableTextMixin, ma.Schema):
    answer = _text(8_000, required=True)


class UpdateInputSchema(StorableTextMixin, ma.Schema):
    title = ma.fields.String(required=True, validate=[validate.Length(min=1, max=200), one_line])
    body = _text(10_000, required=True)


class ChallengeSummarySchema(ma.Schema):
    id = ma.fields.Integer()
    title = ma.fields.String()
    summary = ma.fields.String()
    organization = ma.fields.String(
        attribute="organization.slug", metadata={"description": "organization slug"}
    )
    organization_name = ma.fields.String(attribute="organization.name")
    category = ma.fields.String()
    maturity = ma.fields.String()
    tags = ma.fields.List(ma.fields.String())
    status = ma.fields.String()
    visibility = ma.fields.String()
    currency = ma.fields.String()
    prize_total = ma.fields.Integer(metadata={"description": "minor units"})
    deadline = ma.fields.DateTime()
    terms_version = ma.fields.Integer(metadata={"description": "current terms version"})
    created_at = ma.fields.DateTime()
    opened_at = ma.fields.DateTime(allow_none=True)


class ChallengePageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ChallengeSummarySchema))
    total = ma.fields.Integer(
        metadata={"description": "the number of results, counted up to 1,000 (see `capped`)"}
    )
    capped = ma.fields.Boolean(
        metadata={"description": "true: there are more than `total` results; narrow the search"}
    )
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    pages = ma.fields.Integer()


class TermsVersionSchema(ma.Schema):
    version = ma.fields.Integer()
    sha256 = ma.fields.String(metadata={"description": "SHA-256 of the canonical JSON of content"})
    content = ma.fields.Dict(
        keys=ma.fields.String(),
        metadata={
            "description": "the terms; json.dumps(content, sort_keys=True, "
            "separators=(',', ':')) hashes to sha256"
        },
    )
    change_note = ma.fields.String()
    created_at = ma.fields.DateTime()


class TermsChangeSchema(ma.Schema):
    field = ma.fields.String()
    before = ma.fields.Raw(allow_none=True)
    after = ma.fields.Raw(allow_none=True)

    @ma.pre_dump
    def _from_tuple(self, change: object, **_: object) -> object:
        if isinstance(change, tuple):
            return dict(zip(("field", "before", "after"), change, strict=True))
        return change


class TermsVersionDetailSchema(TermsVersionSchema):
    previous_version = ma.fields.Integer(allow_none=True)
    changes = ma.fields.List(
        ma.fields.Nested(TermsChangeSchema),
        metadata={"description": "what differs from the previous version (empty for the first)"},
    )


class AmendmentSchema(ma.Schema):
    version = ma.fields.Nested(TermsVersionSchema)
    changes = ma.fields.List(ma.fields.Nested(TermsChangeSchema), attribute="diff")


class ChallengeDetailSchema(ChallengeSummarySchema):
    background = ma.fields.String()
    looking_for = ma.fields.List(ma.fields.String())
    nice_to_have = ma.fields.String()
    not_looking_for = ma.fields.String()
    possible_approaches = ma.fields.String()
    deliverables = ma.fields.String()
    confidential_details = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "null unless you are staff of the organization or accepted a "
            "terms version of this need"
        },
    )
    terms = ma.fields.Nested(TermsVersionSchema, attribute="current_terms")
    escrow_required = ma.fields.Integer(
        metadata={"description": "prizes plus platform fee, minor units"}
    )
    accepted_version = ma.fields.Integer(
        allow_none=True, metadata={"description": "the latest terms version you accepted"}
    )
    updated_at = ma.fields.DateTime()
    closed_at = ma.fields.DateTime(allow_none=True)


class AcceptanceSchema(ma.Schema):
    challenge_id = ma.fields.Integer()
    version = ma.fields.Integer(attribute="terms_version.version")
    sha256 = ma.fields.String()
    accepted_at = ma.fields.DateTime()


class PaymentSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    status = ma.fields.String()
    amount = ma.fields.Integer(metadata={"description": "minor units"})
    currency = ma.fields.String()
    provider = ma.fields.String()
    checkout_url = ma.fields.String(
        allow_none=True, metadata={"description": "where to pay, when not settled at once"}
    )
    created_at = ma.fields.DateTime()
    settled_at = ma.fields.DateTime(allow_none=True)


class InvitationCreatedSchema(ma.Schema):
    id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    email = ma.fields.String()
    partner_name = ma.fields.String()
    expires_at = ma.fields.DateTime()
    token = ma.fields.String(metadata={"description": "shown once; redeem it to join"})
    link = ma.fields.String(metadata={"description": "the single-use link, shown once"})


class ClarificationSchema(ma.Schema):
    id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    question = ma.fields.String()
    answer = ma.fields.String(allow_none=True)
    asked_at = ma.fields.DateTime()
    answered_at = ma.fields.DateTime(allow_none=True)


class ProgressUpdateSchema(ma.Schema):
    id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    title = ma.fields.String()
    body = ma.fields.String()
    posted_at = ma.fields.DateTime()


class NotificationSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    title = ma.fields.String()
    body = ma.fields.String()
    link = ma.fields.String()
    created_at = ma.fields.DateTime()
    read_at = ma.fields.DateTime(allow_none=True)


class NotificationPageSchema(KeysetPageSchema):
    items = ma.fields.List(ma.fields.Nested(NotificationSchema))
