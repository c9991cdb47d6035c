"""JSON API for judging: reviewers, reviews, shortlist, decisions, awards, closing a need.

Thin resources: parse with marshmallow, call one service, dump. The seeker's owners and
managers assign reviewers, shortlist, decide and close; assigned reviewers score. Scores are
integers (0-10 per criterion; means in hundredths), money integer minor units. Every write
needs ``Authorization: Bearer <token>`` (marketplace.auth).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from marketplace.api import ID, problem_responses
from marketplace.auth import READ_AUTH, WRITE_AUTH, api_user, token_area, token_scope
from marketplace.challenges.schemas import ChallengeSummarySchema
from marketplace.errors import NotFound
from marketplace.judging import closing, decisions, reviews
from marketplace.judging.schemas import (
    AssignmentSchema,
    AwardSchema,
    DecisionInputSchema,
    DecisionSchema,
    ReviewerInputSchema,
    ReviewInputSchema,
    ReviewSchema,
    ShortlistInputSchema,
    ShortlistSchema,
    StandingPageSchema,
)
from marketplace.pagination import CursorQuerySchema
from marketplace.proposals.access import get_proposal

blp = Blueprint(
    "judging_api",
    __name__,
    url_prefix="/api/v1",
    description="Reviewers, reviews, shortlists, decisions, awards and closing out",
)
token_area(blp, "judging")


PROBLEMS = {
    401: "Not authenticated: no credentials where they are needed, an unknown or revoked "
    "token, or a write sent with only the session cookie (writes need a bearer token)",
    403: "Authenticated, but your role in the seeking organization does not allow this",
    404: "No such proposal or need, or one you may not see",
    409: "The proposal's or the need's state does not allow this now",
    422: "Invalid input: `errors` names each field and what is wrong with it",
}


problems = problem_responses(blp, PROBLEMS)


@blp.route(f"/proposals/<{ID}:proposal_id>/reviewers")
class Reviewers(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ReviewerInputSchema)
    @blp.response(201, AssignmentSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _409="The proposal is decided already, or the reviewer is on its team",
        _422="The reviewer is no owner, manager or reviewer of the organization",
    )
    def post(self, data: dict, proposal_id: int) -> Any:
        """Ask a member of the organization to review the proposal (owners and managers);
        asking again gives the same assignment."""
        return reviews.assign_reviewer(api_user(), proposal_id, data["reviewer_id"])


@blp.route(f"/proposals/<{ID}:proposal_id>/reviews")
class Reviews(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, ReviewSchema(many=True))
    @problems(401, 403, 404)
    def get(self, proposal_id: int) -> Any:
        """Every review of the proposal (the seeker's owners, managers and reviewers)."""
        return reviews.reviews_of(api_user(), proposal_id)


@blp.route(f"/proposals/<{ID}:proposal_id>/reviews/mine")
class MyReview(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ReviewInputSchema)
    @blp.response(200, ReviewSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _403="You are not assigned to review this proposal, or you are on its team",
        _409="The proposal is decided already",
        _422="Not one score (0-10, with a comment) for each criterion of the terms",
    )
    def put(self, data: dict, proposal_id: int) -> Any:
        """Score the proposal (assigned reviewers), again until it is decided."""
        return reviews.submit_review(api_user(), proposal_id, data["scores"])


@blp.route(f"/proposals/<{ID}:proposal_id>/shortlist")
class Shortlist(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(ShortlistInputSchema)
    @blp.response(200, ShortlistSchema)
    @problems(401, 403, 404, 409, 422, _409="The proposal is decided already")
    def put(self, data: dict, proposal_id: int) -> Any:
        """Put the proposal on the shortlist, or take it off (owners and managers)."""
        return reviews.set_shortlisted(api_user(), proposal_id, data["shortlisted"])


@blp.route(f"/proposals/<{ID}:proposal_id>/decision")
class DecisionItem(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, DecisionSchema)
    @problems(401, 404, _404="No such proposal or no decision yet, or a proposal you may not see")
    def get(self, proposal_id: int) -> Any:
        """The decision on the proposal, its feedback and award (its team and the seeker)."""
        decision = decisions.decision_of(get_proposal(api_user(), proposal_id))
        if decision is None:
            raise NotFound("No decision on this proposal yet.")
        return decision

    @blp.doc(security=WRITE_AUTH)
    @blp.arguments(DecisionInputSchema)
    @blp.response(201, DecisionSchema)
    @problems(
        401,
        403,
        404,
        409,
        422,
        _409="A different decision exists, the proposal is not submitted, the prize is "
        "awarded already, the team has not confirmed its split, or escrow holds too little",
        _422="No feedback, or a prize or amount the terms do not allow",
    )
    @token_scope(money=True)
    def post(self, data: dict, proposal_id: int) -> Any:
        """Award a prize or decline (owners and managers), always with feedback for the team.
        The same award sent again gives the same decision and writes nothing."""
        user = api_user()
        if data["outcome"] == "award":
            award = decisions.award_prize(
                user, proposal_id, data["prize_rank"], data["feedback"], amount=data["amount"]
            )
            return award.decision
        return decisions.decline_proposal(user, proposal_id, data["feedback"])


@blp.route(f"/challenges/<{ID}:challenge_id>/scoreboard")
class Scoreboard(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.arguments(CursorQuerySchema, location="query")
    @blp.response(200, StandingPageSchema)
    @problems(401, 403, 404, 422)
    def get(self, query: dict, challenge_id: int) -> Any:
        """A page of the need's proposals, best mean score first, unscored last (the seeker's
        owners, managers and reviewers)."""
        return reviews.scoreboard(api_user(), challenge_id, **query)


@blp.route(f"/challenges/<{ID}:challenge_id>/awards")
class Awards(MethodView):
    @blp.doc(security=READ_AUTH)
    @blp.response(200, AwardSchema(many=True))
    @problems(401, 403, 404)
    def get(self, challenge_id: int) -> Any:
        """The prizes awarded so far, by prize rank (the seeker's owners, managers and
        reviewers)."""
        return decisions.awards_of(api_user(), challenge_id)


@blp.route(f"/challenges/<{ID}:challenge_id>/close")
class Close(MethodView):
    @blp.doc(security=WRITE_AUTH)
    @blp.response(200, ChallengeSummarySchema)
    @problems(
        401,
        403,
        404,
        409,
        _409="Open until its deadline, not open or being judged, or submitted proposals "
        "still wait for a decision with feedback",
    )
    @token_scope(money=True)
    def post(self, challenge_id: int) -> Any:
        """Close the need out (owners and managers): every submitted proposal has an answer;
        unspent escrow goes back to the seeker."""
        return closing.close_challenge(api_user(), challenge_id)
