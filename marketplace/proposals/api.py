"""JSON API for proposals, their team and split, attachments and private messages.

Thin resources: parse with marshmallow, call one service, dump. A proposal is confidential: to
anyone outside its team and the seeker's owners, managers and reviewers it does not exist (404);
platform admins see its metadata only, unless the terms let them read it in full. Every write
needs ``Authorization: Bearer <token>`` (marketplace.auth).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import send_file, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.limits import invitation_limit
from marketplace.api import ID, Annotated, problem_responses
from marketplace.auth import (
    READ_AUTH,
    READ_OPTIONAL_AUTH,
    WRITE_AUTH,
    api_user,
    api_viewer,
    token_area,
)
from marketplace.pagination import CursorQuerySchema
from marketplace.proposals import attachments, messages, services, team
from marketplace.proposals.access import (
    get_proposal,
    get_proposal_metadata,
    may_see_need,
    side_of,
)
from marketplace.proposals.home import solver_home
from marketplace.proposals.models import Proposal
from marketplace.proposals.schemas import (
    AttachmentSchema,
    AttachmentUploadSchema,
    ConfirmInputSchema,
    InvitedMemberSchema,
    JoinInputSchema,
    MessageInputSchema,
    MessageSchema,
    ProposalChangesSchema,
    ProposalDetailSchema,
    ProposalInputSchema,
    ProposalPageSchema,
    SolverHomeSchema,
    SplitInputSchema,
    TeamInviteInputSchema,
    TeamSchema,
)

blp = Blueprint(
    "proposals_api",
    __name__,
    url_prefix="/api/v1",
    description="Proposals, teams and splits, attachments and private messages",
)
token_area(blp, "proposals")


PROBLEMS = {
    401: "Not authenticated: no credentials where they are needed, an unknown or revoked "
    "token, or a write sent with only the session cookie (writes need a bearer token)",
    403: "You may read the proposal, but not do this (only its team, or only its lead)",
    404: "No such proposal, or one you may not see",
    409: "The proposal's or the need's state does not allow this now",
    422: "Invalid input: `errors` names each field and what is wrong with it",
}


problems = problem_responses(blp, PROBLEMS)


def _detail(user: Any, proposal: Proposal, full: bool = True) -> Annotated:
    side = side_of(user, proposal)
    title = proposal.challenge.title if may_see_need(user, proposal) else None
    return Annotated(proposal, full=full, side=side.value if side else None, challenge_title=title)


#: The media types an attachment is served with (attachments.TYPES, without parameters).
FILE_TYPES = sorted({content_type.split(";")[0] for content_type, _ in attachments.TYPES.values()})


def file_responses(function: Callable) -> Callable:
    """Document a 200 answer that is the file's bytes, in any of the accepted types."""
    for content_type in FILE_TYPES:
        function = blp.response(
            200,
            {"type": "string", "format": "binary"},
            content_type=content_type,
            description="The file, as an attachment (`X-Content-Type-Options: nosniff`)",
        )(function)
    return function


# --- proposals ---


@blp.route(f"/challenges/<{ID}:challenge_id>/proposals")
class ChallengeProposals(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(CursorQuerySchema, location="query")
    @blp.response(200, ProposalPageSchema)
    @problems(401, 403, 404, 422, _403="A finance member of the seeking organization")
    def get(self, query: dict, challenge_id: int) -> Any:
        """A page of proposals. The seeker's owners, managers and reviewers: the proposals
        sent to the need, in the order they were submitted. Anyone else: their own proposals
        for it, drafts included, newest first."""
        return services.proposals_for(api_user(), challenge_id, **query)

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ProposalInputSchema)
    @blp.response(201, ProposalDetailSchema)
    @problems(
        401,
        404,
        409,
        422,
        _409="The need is not open, you are not eligible, or you have not accepted its terms",
    )
    def post(self, data: dict, challenge_id: int) -> Any:
        """Write a draft proposal, which you lead (accept the need's terms first)."""
        user = api_user()
        return _detail(user, services.create_proposal(user, challenge_id, data))


@blp.route(f"/proposals/<{ID}:proposal_id>")
class ProposalItem(MethodView):
    @blp.doc(security=READ_OPTIONAL_AUTH)
    @blp.response(200, ProposalDetailSchema)
    @problems(401, 404, _404="No such proposal, or one you may not see (anonymous: none)")
    def get(self, proposal_id: int) -> Any:
        """One proposal, for its team and (once submitted) the seeker's readers; platform
        admins get its metadata only (`full` false) unless the terms allow more. To anyone
        else, signed in or not, it does not exist."""
        user = api_viewer()
        proposal, full = get_proposal_metadata(user, proposal_id)
        return _detail(user, proposal, full)

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ProposalChangesSchema(partial=True))
    @blp.response(200, ProposalDetailSchema)
    @problems(401, 403, 404, 409, 422, _409="The deadline has passed, or it was decided")
    def patch(self, changes: dict, proposal_id: int) -> Any:
        """Edit the text (any team member, until the deadline; only the fields sent change)."""
        user = api_user()
        return _detail(user, services.update_proposal(user, proposal_id, changes))


@blp.route(f"/proposals/<{ID}:proposal_id>/submit")
class ProposalSubmit(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(200, ProposalDetailSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _422="Not ready: `errors` names the empty fields, and under `team` who has not joined, "
        "accepted the current terms or confirmed the split",
    )
    def post(self, proposal_id: int) -> Any:
        """Send the proposal to the seeker (the lead), under the current terms version."""
        user = api_user()
        return _detail(user, services.submit_proposal(user, proposal_id))


@blp.route(f"/proposals/<{ID}:proposal_id>/withdraw")
class ProposalWithdraw(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(200, ProposalDetailSchema)
    @problems(401, 403, 404, 409, _409="The seeker has decided on it already")
    def post(self, proposal_id: int) -> Any:
        """Take the proposal back (the lead), until the seeker decides on it."""
        user = api_user()
        return _detail(user, services.withdraw_proposal(user, proposal_id))


# --- team and split ---


@blp.route(f"/proposals/<{ID}:proposal_id>/team")
class Team(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, TeamSchema)
    @problems(401, 404)
    def get(self, proposal_id: int) -> Any:
        """The team, its shares (basis points) and who confirmed the current split."""
        return get_proposal(api_user(), proposal_id)

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(TeamInviteInputSchema)
    @blp.response(201, InvitedMemberSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _409="The team is full under the terms, the split is locked, or the proposal "
        "can no longer change",
    )
    def post(self, data: dict, proposal_id: int) -> Any:
        """Invite a co-creator by email (the lead). The join token is in this answer only."""
        member, token = team.invite_member(api_user(), proposal_id, data["email"], data["share_bp"])
        return Annotated(
            member,
            join_token=token,
            join_link=url_for("proposals.join", token=token, _external=True),
        )


@blp.route(f"/proposals/<{ID}:proposal_id>/team/split")
class TeamSplit(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(SplitInputSchema)
    @blp.response(200, TeamSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _422="A share missing or unknown, or shares that do not add up to 10000",
    )
    def put(self, shares: dict[int, int], proposal_id: int) -> Any:
        """Set the shares (the lead): a new split version that every member confirms."""
        return team.set_split(api_user(), proposal_id, shares)


@blp.route(f"/proposals/<{ID}:proposal_id>/team/confirm")
class TeamConfirm(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ConfirmInputSchema)
    @blp.response(200, TeamSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _409="The split changed since that version, or is locked",
    )
    def post(self, data: dict, proposal_id: int) -> Any:
        """Agree to split `version` (any team member)."""
        return team.confirm_split(api_user(), proposal_id, data["version"])


@blp.route(f"/proposals/<{ID}:proposal_id>/team/<{ID}:member_id>")
class TeamMemberItem(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(200, TeamSchema)
    @problems(
        401,
        403,
        404,
        409,
        _404="No such proposal or member, or a proposal you may not see",
        _409="The lead cannot leave, or the split is locked",
    )
    def delete(self, proposal_id: int, member_id: int) -> Any:
        """Remove a member or an invitation (the lead), or leave the team; the lead takes
        the share back and may split again."""
        return team.remove_member(api_user(), proposal_id, member_id)


@blp.route("/team-invitations/accept")
class TeamInvitationAccept(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(JoinInputSchema)
    @blp.response(200, ProposalDetailSchema)
    @problems(
        401,
        409,
        422,
        429,
        _409="The need is not open to you, or you are not eligible under its terms",
        _422="The invitation is unknown, used, expired or for another email address",
        _429="Too many invitation attempts from this address (INVITATION_RATE_LIMIT)",
    )
    @invitation_limit
    def post(self, data: dict) -> Any:
        """Join the team an invitation is for, signed in with the invited address."""
        user = api_user()
        return _detail(user, team.join_team(user, data["token"]))


# --- attachments ---


@blp.route(f"/proposals/<{ID}:proposal_id>/attachments")
class Attachments(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, AttachmentSchema(many=True))
    @problems(401, 404)
    def get(self, proposal_id: int) -> Any:
        """The proposal's files."""
        return get_proposal(api_user(), proposal_id).attachments

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(AttachmentUploadSchema, location="files")
    @blp.response(201, AttachmentSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _409="The proposal holds 10 files already, or can no longer change",
        _422="No file, a name or type not accepted, content that is not what its name says, "
        "a file that is empty or too large, or storage that is full or read-only",
    )
    def post(self, files: dict, proposal_id: int) -> Any:
        """Add a file (team members, until the deadline): PDF, PNG, JPEG, docx, xlsx, pptx,
        txt, md or csv."""
        upload = files["file"]
        return attachments.add_attachment(
            api_user(), proposal_id, upload.filename or "", upload.stream
        )


@blp.route(f"/proposals/<{ID}:proposal_id>/attachments/<{ID}:attachment_id>")
class AttachmentItem(MethodView):
    @blp.doc(security=READ_AUTH)
    @file_responses
    @problems(401, 404, _404="No such proposal or file, or a proposal you may not see")
    def get(self, proposal_id: int, attachment_id: int) -> Any:
        """The file's bytes, as an attachment."""
        found = attachments.download(api_user(), proposal_id, attachment_id)
        response = send_file(
            found.path,
            mimetype=found.content_type,
            as_attachment=True,
            download_name=found.filename,
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @blp.doc(security=WRITE_AUTH)
    @blp.response(204)
    @problems(
        401,
        403,
        404,
        409,
        _404="No such proposal or file, or a proposal you may not see",
        _409="The proposal can no longer change",
    )
    def delete(self, proposal_id: int, attachment_id: int) -> None:
        """Remove a file (team members, until the deadline)."""
        attachments.remove_attachment(api_user(), proposal_id, attachment_id)


# --- the private thread ---


@blp.route(f"/proposals/<{ID}:proposal_id>/messages")
class Messages(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, MessageSchema(many=True))
    @problems(401, 404)
    def get(self, proposal_id: int) -> Any:
        """The private thread between the team and the seeker, oldest first."""
        return messages.thread(api_user(), proposal_id)

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(MessageInputSchema)
    @blp.response(201, MessageSchema)
    @problems(
        401,
        404,
        409,
        422,
        _409="The proposal is not submitted yet, or you are neither its team nor the seeker",
    )
    def post(self, data: dict, proposal_id: int) -> Any:
        """Write to the other side (the team or the seeker), who is told."""
        return messages.post_message(api_user(), proposal_id, data["body"])


# --- the solver's home ---


@blp.route("/me/proposals")
class MyProposals(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(CursorQuerySchema, location="query")
    @blp.response(200, SolverHomeSchema)
    @problems(401, 422)
    def get(self, query: dict) -> Any:
        """A page of your proposals (newest first), team invitations, splits to confirm,
        decisions with feedback, awards with your part, and what you are owed per currency."""
        return solver_home(api_user(), **query)
