"""JSON API for needs, their terms, funding, invitations, dialogue and notifications.

Thin resources: parse with marshmallow, call one service, dump. The rules (who may see and do
what) are in the services: a need the caller may not see answers 404, an action they may not
take 403, a state that forbids it 409, input that breaks a rule 422 with field errors.

Authentication (marketplace.auth): reads accept a bearer token or the session cookie, and the
public reads also anonymous callers; every write needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.accounts.limits import invitation_limit
from marketplace.accounts.services import get_organization
from marketplace.api import ID, Annotated, problem_responses
from marketplace.auth import (
    ACCOUNT,
    READ_AUTH,
    READ_OPTIONAL_AUTH,
    WRITE_AUTH,
    api_user,
    api_viewer,
    token_area,
    token_scope,
)
from marketplace.challenges import search as search_service
from marketplace.challenges import services
from marketplace.challenges.access import get_visible
from marketplace.challenges.models import Challenge, TermsVersion
from marketplace.challenges.schemas import (
    AcceptanceSchema,
    AmendmentSchema,
    AnswerInputSchema,
    ChallengeCreateSchema,
    ChallengeDetailSchema,
    ChallengePageSchema,
    ChallengeQuerySchema,
    ChallengeSummarySchema,
    ClarificationSchema,
    FundingInputSchema,
    InvitationCreatedSchema,
    InvitationInputSchema,
    NeedChangesSchema,
    NotificationPageSchema,
    PaymentSchema,
    ProgressUpdateSchema,
    QuestionInputSchema,
    RedeemInputSchema,
    TermsAmendmentSchema,
    TermsVersionDetailSchema,
    TermsVersionSchema,
    UpdateInputSchema,
)
from marketplace.challenges.terms import terms_diff
from marketplace.dialogue import services as dialogue
from marketplace.errors import Invalid, NotFound
from marketplace.notifications import services as notifications
from marketplace.pagination import CursorQuerySchema
from marketplace.payments import services as payments

blp = Blueprint(
    "challenges_api",
    __name__,
    url_prefix="/api/v1",
    description="Needs, terms, funding, invitations, dialogue and notifications",
)
token_area(blp, "needs")


PROBLEMS = {
    401: "Not authenticated: no credentials where they are needed, an unknown or revoked "
    "token, or a write sent with only the session cookie (writes need a bearer token)",
    403: "Authenticated, but your role in the organization does not allow this",
    404: "No such need, or one you may not see",
    409: "The need's state does not allow this now",
    422: "Invalid input: `errors` names each field and what is wrong with it",
}


problems = problem_responses(blp, PROBLEMS)


def _detail(user: Any, challenge: Challenge) -> Annotated:
    """A need as ``user`` may see it: its confidential details only if the rules say so."""
    allowed = services.may_see_confidential(user, challenge)
    return Annotated(
        challenge,
        confidential_details=challenge.confidential_details if allowed else None,
        accepted_version=services.accepted_version(user, challenge),
        escrow_required=challenge.current_terms.terms.escrow_required,
    )


@blp.route("/challenges")
class Challenges(MethodView):
    @blp.doc(security=READ_OPTIONAL_AUTH)
    @blp.arguments(ChallengeQuerySchema, location="query")
    @blp.response(200, ChallengePageSchema)
    @problems(401, 422)
    def get(self, query: dict) -> Any:
        """Browse and search the needs you may see (open ones unless `status` says otherwise)."""
        return search_service.search(api_viewer(), query)

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ChallengeCreateSchema)
    @blp.response(201, ChallengeDetailSchema)
    @problems(401, 403, 422)
    def post(self, data: dict) -> Any:
        """Write a draft need with its first terms version (owners and managers)."""
        user = api_user()
        try:
            organization = get_organization(data.pop("organization"))
        except NotFound:
            raise Invalid(
                "Please correct the highlighted fields.",
                {"organization": ["No organization has this slug."]},
            ) from None
        terms = data.pop("terms")
        return _detail(user, services.create_challenge(user, organization, data, terms))


@blp.route(f"/challenges/<{ID}:challenge_id>")
class ChallengeItem(MethodView):
    @blp.doc(security=READ_OPTIONAL_AUTH)
    @blp.response(200, ChallengeDetailSchema)
    @problems(401, 404)
    def get(self, challenge_id: int) -> Any:
        """One need, its current terms and status; `confidential_details` is null unless you
        are its organization's staff or accepted its terms."""
        user = api_viewer()
        return _detail(user, get_visible(user, challenge_id))

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(NeedChangesSchema(partial=True))
    @blp.response(200, ChallengeDetailSchema)
    @problems(401, 403, 404, 409, 422, _409="Only a draft's need statement can be edited")
    def patch(self, changes: dict, challenge_id: int) -> Any:
        """Edit the need statement of a draft (only the fields sent change)."""
        user = api_user()
        challenge = get_visible(user, challenge_id)
        return _detail(user, services.update_need(user, challenge, changes))


@blp.route(f"/challenges/<{ID}:challenge_id>/open")
class ChallengeOpen(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(200, ChallengeDetailSchema)
    @problems(
        401, 403, 404, 409, _409="Not a draft, or escrow does not yet hold the prizes and the fee"
    )
    def post(self, challenge_id: int) -> Any:
        """Publish a draft; its prize pool and fee must be in escrow first."""
        user = api_user()
        return _detail(user, services.open_challenge(user, get_visible(user, challenge_id)))


@blp.route(f"/challenges/<{ID}:challenge_id>/cancel")
class ChallengeCancel(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(200, ChallengeDetailSchema)
    @problems(401, 403, 404, 409, _409="Only a draft or open need can be cancelled")
    def post(self, challenge_id: int) -> Any:
        """Cancel a draft or open need; what escrow holds goes back to the seeker."""
        user = api_user()
        return _detail(user, services.cancel_challenge(user, get_visible(user, challenge_id)))


@blp.route(f"/challenges/<{ID}:challenge_id>/terms")
class TermsVersions(MethodView):
    @blp.doc(security=READ_OPTIONAL_AUTH)
    @blp.response(200, TermsVersionSchema(many=True))
    @problems(401, 404)
    def get(self, challenge_id: int) -> Any:
        """Every terms version of a need, oldest first."""
        return get_visible(api_viewer(), challenge_id).versions

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(TermsAmendmentSchema)
    @blp.response(201, AmendmentSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _409="The need is neither a draft nor open",
        _422="Invalid terms; after opening, also each field that would get worse for solvers, "
        "or prizes that escrow does not cover yet",
    )
    def post(self, amendment: dict, challenge_id: int) -> Any:
        """Publish a new terms version. Once the need is open it may only favour solvers."""
        user = api_user()
        challenge = get_visible(user, challenge_id)
        return services.amend_terms(user, challenge, amendment["terms"], amendment["change_note"])


@blp.route(f"/challenges/<{ID}:challenge_id>/terms/<{ID}:version>")
class TermsItem(MethodView):
    @blp.doc(security=READ_OPTIONAL_AUTH)
    @blp.response(200, TermsVersionDetailSchema)
    @problems(401, 404, _404="No such need or terms version, or a need you may not see")
    def get(self, challenge_id: int, version: int) -> Any:
        """One terms version and what changed from the version before it."""
        versions: dict[int, TermsVersion] = {
            v.version: v for v in get_visible(api_viewer(), challenge_id).versions
        }
        if version not in versions:
            raise NotFound("No such terms version.")
        previous = versions.get(version - 1)
        return Annotated(
            versions[version],
            previous_version=previous.version if previous else None,
            changes=terms_diff(previous.terms, versions[version].terms) if previous else [],
        )


@blp.route(f"/challenges/<{ID}:challenge_id>/acceptances")
class Acceptances(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(201, AcceptanceSchema)
    @problems(401, 404, 409, _409="The need is not open, or its terms make you ineligible")
    def post(self, challenge_id: int) -> Any:
        """Accept the current terms version (again: the same acceptance). Opens the
        confidential details."""
        return services.accept_terms(api_user(), challenge_id)


@blp.route(f"/challenges/<{ID}:challenge_id>/fundings")
class Fundings(MethodView):
    @token_scope(money=True)
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(FundingInputSchema, required=False)
    @blp.response(201, PaymentSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _409="The need takes no more funding, or the payment provider refused",
        _422="Invalid amount: more than escrow lacks (unless a top-up for an amendment with a "
        "higher prize total, `amendment_prize_total`), or nothing to fund",
    )
    def post(self, data: dict, challenge_id: int) -> Any:
        """Pay into the need's escrow (owners, managers and finance). With the sandbox provider
        it settles at once; with Stripe, pay at `checkout_url`. To fund an amendment with more
        prize money (an open need's amendment is published only once escrow holds it), send
        its prize total as `amendment_prize_total`, then publish the amendment."""
        user = api_user()
        challenge = get_visible(user, challenge_id)
        return payments.start_funding(
            user,
            challenge,
            data.get("amount"),
            amendment_prize_total=data.get("amendment_prize_total"),
        )


@blp.route(f"/challenges/<{ID}:challenge_id>/invitations")
class Invitations(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(InvitationInputSchema)
    @blp.response(201, InvitationCreatedSchema)
    @problems(401, 403, 404, 409, 422, _409="The need is not invite-only")
    def post(self, data: dict, challenge_id: int) -> Any:
        """Invite a named partner to an invite-only need: a single-use link for 14 days, shown
        only in this answer."""
        user = api_user()
        challenge = get_visible(user, challenge_id)
        invitation, token = services.invite_partner(user, challenge, data["email"], data["name"])
        return Annotated(
            invitation,
            token=token,
            link=url_for("challenges.redeem", token=token, _external=True),
        )


@blp.route("/invitations/redeem")
class InvitationRedeem(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(RedeemInputSchema)
    @blp.response(200, ChallengeSummarySchema)
    @problems(
        401,
        422,
        429,
        _422="The invitation is unknown, used, expired or for someone else",
        _429="Too many invitation attempts from this address (INVITATION_RATE_LIMIT)",
    )
    @invitation_limit
    def post(self, data: dict) -> Any:
        """Join the invite-only need an invitation is for; answers that need."""
        return services.redeem_invitation(api_user(), data["token"])


@blp.route(f"/challenges/<{ID}:challenge_id>/clarifications")
class Clarifications(MethodView):
    @blp.doc(security=READ_OPTIONAL_AUTH)
    @blp.response(200, ClarificationSchema(many=True))
    @problems(401, 404)
    def get(self, challenge_id: int) -> Any:
        """Answered questions; staff also see unanswered ones, askers their own."""
        user = api_viewer()
        return dialogue.clarifications_for(user, get_visible(user, challenge_id))

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(QuestionInputSchema)
    @blp.response(201, ClarificationSchema)
    @problems(401, 404, 409, 422, _409="The need is not open, or you are its staff")
    def post(self, data: dict, challenge_id: int) -> Any:
        """Ask a public question; the answer is published to every participant."""
        return dialogue.ask(api_user(), challenge_id, data["question"])


@blp.route(f"/clarifications/<{ID}:clarification_id>/answer")
class ClarificationAnswer(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(AnswerInputSchema)
    @blp.response(200, ClarificationSchema)
    @problems(401, 403, 404, 409, 422, _409="The question is answered already")
    def post(self, data: dict, clarification_id: int) -> Any:
        """Answer a question (owners and managers); every participant is told."""
        return dialogue.answer(api_user(), clarification_id, data["answer"])


@blp.route(f"/challenges/<{ID}:challenge_id>/updates")
class Updates(MethodView):
    @blp.doc(security=READ_OPTIONAL_AUTH)
    @blp.response(200, ProgressUpdateSchema(many=True))
    @problems(401, 404)
    def get(self, challenge_id: int) -> Any:
        """Progress updates, newest first."""
        return dialogue.updates_of(get_visible(api_viewer(), challenge_id))

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(UpdateInputSchema)
    @blp.response(201, ProgressUpdateSchema)
    @problems(401, 403, 404, 409, 422, _409="The need is neither open nor being judged")
    def post(self, data: dict, challenge_id: int) -> Any:
        """Post a progress update to every participant (owners and managers)."""
        return dialogue.post_update(api_user(), challenge_id, data["title"], data["body"])


@blp.route("/notifications")
class Notifications(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(CursorQuerySchema, location="query")
    @blp.response(200, NotificationPageSchema)
    @problems(401, 422)
    @token_scope(ACCOUNT)
    def get(self, query: dict) -> Any:
        """A page of your notifications, newest first."""
        return notifications.inbox(api_user(), **query)


@blp.route("/notifications/read")
class NotificationsRead(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(204)
    @problems(401)
    @token_scope(ACCOUNT)
    def post(self) -> None:
        """Mark all your notifications read."""
        notifications.mark_all_read(api_user())
