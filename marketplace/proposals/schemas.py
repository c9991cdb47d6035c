"""The JSON API's shapes for proposals (marketplace/proposals/api.py): input, output, solver home.

Shares are integer basis points (6000 = 60.00 %) and money integer minor units: never floats.
"""

from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import validate

from marketplace.challenges.schemas import StorableTextMixin
from marketplace.judging.schemas import DecisionSchema
from marketplace.pagination import KeysetPageSchema
from marketplace.text_rules import one_line

#: Ids are 64-bit.
MAX_ID = 9_223_372_036_854_775_807
FULL = 10_000


def _id(**kwargs: object) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _share(minimum: int, **kwargs: object) -> ma.fields.Integer:
    return ma.fields.Integer(
        strict=True,
        validate=validate.Range(min=minimum, max=FULL),
        metadata={"description": "basis points: 6000 is 60.00 %"},
        **kwargs,
    )


def _computed(kind: str, method: str, description: str = "") -> ma.fields.Method:
    """A value computed from the object, documented with its JSON type."""
    metadata = {"type": kind, **({"description": description} if description else {})}
    return ma.fields.Method(method, metadata=metadata)


# --- input ---


class ProposalInputSchema(StorableTextMixin, ma.Schema):
    """A new draft proposal."""

    title = ma.fields.String(required=True, validate=[validate.Length(min=1, max=200), one_line])
    summary = ma.fields.String(
        load_default="",
        validate=validate.Length(max=2_000),
        metadata={"description": "not confidential: platform admins may read it"},
    )
    description = ma.fields.String(load_default="", validate=validate.Length(max=50_000))
    approach = ma.fields.String(load_default="", validate=validate.Length(max=50_000))


class ProposalChangesSchema(ProposalInputSchema):
    """Fields of a proposal's text to change; loaded with ``partial=True``."""


class TeamInviteInputSchema(StorableTextMixin, ma.Schema):
    email = ma.fields.Email(required=True, validate=validate.Length(max=254))
    share_bp = _share(0, load_default=0)


class ShareInputSchema(ma.Schema):
    member_id = _id(required=True)
    share_bp = _share(1, required=True)


class SplitInputSchema(ma.Schema):
    shares = ma.fields.List(
        ma.fields.Nested(ShareInputSchema),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "a share for every member of the team, adding up to 10000"},
    )

    @ma.validates_schema
    def _once_each(self, data: dict, **_: object) -> None:
        ids = [share["member_id"] for share in data.get("shares") or []]
        if len(ids) != len(set(ids)):
            raise ma.ValidationError("Give each member one share.", "shares")

    @ma.post_load
    def _as_mapping(self, data: dict, **_: object) -> dict[int, int]:
        return {share["member_id"]: share["share_bp"] for share in data["shares"]}


class ConfirmInputSchema(ma.Schema):
    version = ma.fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "the split version you agree to (`split_version` of the team)"},
    )


class JoinInputSchema(StorableTextMixin, ma.Schema):
    token = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))


class AttachmentUploadSchema(ma.Schema):
    file = Upload(
        required=True,
        metadata={"description": "PDF, PNG, JPEG, Office (docx, xlsx, pptx) or UTF-8 text"},
    )


class MessageInputSchema(StorableTextMixin, ma.Schema):
    body = ma.fields.String(required=True, validate=validate.Length(min=1, max=10_000))


# --- output ---


class AttachmentSchema(ma.Schema):
    id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    filename = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer(metadata={"description": "bytes"})
    sha256 = ma.fields.String()
    uploaded_by_id = ma.fields.Integer()
    uploaded_at = ma.fields.DateTime()


class TeamMemberSchema(ma.Schema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    name = ma.fields.String(
        attribute="user.name", allow_none=True, dump_default=None,
        metadata={"description": "null until the invited person joins"},
    )  # fmt: skip
    is_lead = ma.fields.Boolean()
    status = ma.fields.String(metadata={"description": "invited or joined"})
    share_bp = _share(0)
    confirmed = ma.fields.Boolean(metadata={"description": "agreed to the current split version"})


class TeamSchema(ma.Schema):
    proposal_id = ma.fields.Integer(attribute="id")
    members = ma.fields.List(ma.fields.Nested(TeamMemberSchema))
    split_version = ma.fields.Integer()
    split_confirmed = ma.fields.Boolean(
        metadata={"description": "everyone joined and confirmed shares that add up to 10000"}
    )
    locked = _computed("boolean", "_locked", "the split locked when a prize was awarded")

    def _locked(self, proposal: object) -> bool:
        return proposal.split_locked_at is not None  # type: ignore[attr-defined]


class InvitedMemberSchema(TeamMemberSchema):
    join_token = ma.fields.String(
        metadata={"description": "shown once, to the lead: the invitee accepts it at "
                  "POST /api/v1/team-invitations/accept"}
    )  # fmt: skip
    join_link = ma.fields.String(metadata={"description": "the join page, shown once"})


class ProposalSummarySchema(ma.Schema):
    """What any reader of a proposal sees, platform admins included (no confidential text)."""

    id = ma.fields.Integer()
    challenge_id = ma.fields.Integer()
    challenge_title = ma.fields.String(
        attribute="challenge.title",
        allow_none=True,
        metadata={"description": "null on your home when the need is no longer open to you"},
    )
    title = ma.fields.String()
    summary = ma.fields.String()
    status = ma.fields.String()
    team_size = _computed("integer", "_team_size", "members and open invitations")
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    submitted_at = ma.fields.DateTime(allow_none=True)
    withdrawn_at = ma.fields.DateTime(allow_none=True)

    def _team_size(self, proposal: object) -> int:
        return len(proposal.members)  # type: ignore[attr-defined]


#: The fields of ProposalDetailSchema that only readers in full get.
FULL_ONLY = (
    "description",
    "approach",
    "lead_id",
    "lead_name",
    "terms_version",
    "split_version",
    "split_confirmed",
    "locked",
    "attachments",
)


class ProposalDetailSchema(ProposalSummarySchema):
    """One proposal. Platform admins get the metadata only (``full`` false: the fields of
    ``FULL_ONLY`` are left out) unless the need's terms let them read proposals in full."""

    challenge_title = ma.fields.String(
        allow_none=True,
        metadata={"description": "null when you may not see the need (a team member outside an "
                  "internal need): a proposal never tells its need's title"},
    )  # fmt: skip
    side = ma.fields.String(metadata={"description": "your side: team, seeker or admin"})
    full = ma.fields.Boolean(
        metadata={"description": "false: metadata only, without description, approach, team "
                  "details and files"}
    )  # fmt: skip
    description = ma.fields.String()
    approach = ma.fields.String()
    lead_id = ma.fields.Integer()
    lead_name = ma.fields.String(attribute="lead.name")
    terms_version = ma.fields.Integer(
        attribute="terms_version.version",
        allow_none=True,
        dump_default=None,
        metadata={"description": "the terms version it was submitted under"},
    )
    split_version = ma.fields.Integer()
    split_confirmed = ma.fields.Boolean()
    locked = _computed("boolean", "_locked", "the split locked when a prize was awarded")
    attachments = ma.fields.List(ma.fields.Nested(AttachmentSchema))

    def _locked(self, proposal: object) -> bool:
        return proposal.split_locked_at is not None  # type: ignore[attr-defined]

    @ma.post_dump(pass_original=True)
    def _metadata_only(self, data: dict, original: object, **_: object) -> dict:
        if not getattr(original, "full", True):
            for name in FULL_ONLY:
                data.pop(name, None)
        return data


class MessageSchema(ma.Schema):
    id = ma.fields.Integer()
    proposal_id = ma.fields.Integer()
    side = ma.fields.String(metadata={"description": "team or seeker"})
    author_id = ma.fields.Integer()
    author_name = ma.fields.String(attribute="author.name")
    body = ma.fields.String()
    sent_at = ma.fields.DateTime()


# --- the solver's home ---


class MyInvitationSchema(ma.Schema):
    """An open invitation (``proposals.home.MyInvitation``)."""

    member_id = ma.fields.Integer(attribute="member.id")
    proposal_id = ma.fields.Integer(attribute="member.proposal_id")
    proposal_title = ma.fields.String(attribute="member.proposal.title")
    challenge_id = ma.fields.Integer(attribute="member.proposal.challenge_id")
    challenge_title = ma.fields.String(
        attribute="need_title",
        allow_none=True,
        metadata={"description": "null when the need is not open to you (yet)"},
    )
    lead_name = ma.fields.String(attribute="member.proposal.lead.name")
    share_bp = _share(0, attribute="member.share_bp")
    invited_at = ma.fields.DateTime(attribute="member.invited_at")


class ToConfirmSchema(ma.Schema):
    proposal_id = ma.fields.Integer(attribute="id")
    title = ma.fields.String()
    split_version = ma.fields.Integer()


class MyAwardSchema(ma.Schema):
    id = ma.fields.Integer(attribute="award.id")
    proposal_id = ma.fields.Integer(attribute="proposal.id")
    proposal_title = ma.fields.String(attribute="proposal.title")
    challenge_id = ma.fields.Integer(attribute="award.challenge_id")
    prize_rank = ma.fields.Integer(attribute="award.prize_rank")
    amount = ma.fields.Integer(
        attribute="award.amount", metadata={"description": "the whole prize, minor units"}
    )
    currency = ma.fields.String(attribute="award.currency")
    my_part = ma.fields.Integer(metadata={"description": "your share of it, minor units"})
    ip_status = ma.fields.String(attribute="award.ip_status")
    awarded_at = ma.fields.DateTime(attribute="award.awarded_at")


class ProposalPageSchema(KeysetPageSchema):
    items = ma.fields.List(ma.fields.Nested(ProposalSummarySchema))


class SolverHomeSchema(KeysetPageSchema):
    """The solver's home, one page of proposals at a time (newest first; pass `next_cursor`
    as `cursor` for older ones). Decisions are those of the page's proposals; invitations,
    splits to confirm and awards show the latest 50."""

    proposals = ma.fields.List(ma.fields.Nested(ProposalSummarySchema))
    invitations = ma.fields.List(
        ma.fields.Nested(MyInvitationSchema),
        metadata={"description": "team invitations sent to your email address"},
    )
    to_confirm = ma.fields.List(
        ma.fields.Nested(ToConfirmSchema),
        metadata={"description": "splits waiting for your confirmation"},
    )
    decisions = ma.fields.List(
        ma.fields.Nested(DecisionSchema),
        metadata={"description": "the decisions on your proposals, with their feedback"},
    )
    awards = ma.fields.List(ma.fields.Nested(MyAwardSchema))
    owed = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "currency -> minor units owed to you now"},
    )

    @ma.pre_dump
    def _decisions_as_list(self, home: object, **_: object) -> dict:
        return {**vars(home), "decisions": list(home.decisions.values())}  # type: ignore[attr-defined]

    @ma.post_dump(pass_original=True)
    def _need_titles(self, data: dict, home: object, **_: object) -> dict:
        """Each proposal's need title only where I may still see the need (null otherwise)."""
        for proposal in data["proposals"]:
            proposal["challenge_title"] = home.need_titles[proposal["id"]]  # type: ignore[attr-defined]
        return data
