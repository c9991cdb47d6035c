"""HTML pages for judging: reviewers, scores, shortlist, decisions, awards, closing out.

The scoreboard of a need is a page of its own; everything done to one proposal is a form of
the judging panel that the proposal's page includes (``judging/_proposal_panel.html``), fed by
the ``judging_panel`` template global. Each form posts to one service and comes back with a
message; a refusal of the input (a Conflict or an Invalid) is a message too, never an error
page, while 404 and 403 stay what the services say.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from marketplace.accounts.models import User
from marketplace.challenges.access import EDITORS, get_visible, role_for
from marketplace.challenges.models import Status
from marketplace.errors import Conflict, Invalid
from marketplace.extensions import db
from marketplace.forms import flash_error
from marketplace.judging import closing, decisions, forms, reviews
from marketplace.judging.panel import Panel, panel_for, prizes_of
from marketplace.pagination import html_page
from marketplace.proposals.access import get_proposal
from marketplace.proposals.models import Proposal

bp = Blueprint("judging", __name__)

#: Fields whose messages read well alone; any other field of a refused review is a criterion.
PLAIN_FIELDS = ("scores", "feedback", "amount", "prize_rank", "reviewer_id")


@bp.app_template_global()
def judging_panel(proposal: Proposal, user: User | None = None) -> Panel | None:
    """The judging panel for ``user`` (default: the signed-in person)."""
    return panel_for(current_user if user is None else user, proposal)


@bp.app_template_filter("score_centi")
def score_centi(centi: int | None) -> str:
    """Hundredths of a point as a score: 680 -> '6.80'; no score yet -> '—'."""
    if centi is None:
        return "—"
    whole, hundredths = divmod(centi, 100)
    return f"{whole}.{hundredths:02d}"


@bp.app_template_filter("elapsed")
def elapsed(seconds: int | None) -> str:
    """A duration in words, to the two largest units: 93784 -> '1 day 2 h'."""
    if seconds is None:
        return "—"
    days, rest = divmod(int(seconds), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return " ".join(parts[:2]) or "under a minute"


def _flash_refusal(error: Invalid | Conflict) -> None:
    """A refused review names its criteria ("Impact: Score from 0 to 10."); the rest is the
    house's one-message flash."""
    if any(field not in PLAIN_FIELDS for field in error.errors):
        flash(
            " ".join(
                message if field in PLAIN_FIELDS else f"{field}: {message}"
                for field, messages in error.errors.items()
                for message in messages
            ),
            "error",
        )
    else:
        flash_error(error)


def _back(proposal_id: int) -> ResponseReturnValue:
    """Back to where the form was: the scoreboard, or the proposal's judging panel."""
    if request.form.get("back") == "board":
        proposal = db.session.get(Proposal, proposal_id)
        if proposal is not None:
            return redirect(url_for("judging.board", challenge_id=proposal.challenge_id))
    return redirect(url_for("proposals.detail", proposal_id=proposal_id, _anchor="judging"))


def _act(
    proposal_id: int, action: Callable[[], object], success: str | Callable[[], str]
) -> ResponseReturnValue:
    """Run one judging service for a proposal; a refused input or state becomes a message."""
    try:
        action()
    except (Invalid, Conflict) as error:
        _flash_refusal(error)
    else:
        flash(success() if callable(success) else success, "success")
    return _back(proposal_id)


@bp.route("/challenges/<int:challenge_id>/judging")
@login_required
def board(challenge_id: int) -> ResponseReturnValue:
    standings = html_page(
        lambda cursor, per_page: reviews.scoreboard(
            current_user, challenge_id, cursor=cursor, per_page=per_page
        ),
        request.args,
    )
    challenge = get_visible(current_user, challenge_id)
    role = role_for(current_user, challenge)
    start = forms.as_int(request.args.get("start")) if standings.has_previous else 0
    return render_template(
        "judging/board.html",
        challenge=challenge,
        standings=standings,
        start=start if isinstance(start, int) and 0 <= start < 10**9 else 0,
        prizes=prizes_of(challenge),
        responses=closing.responses(challenge),
        waiting=closing.undecided_count(challenge),
        role=role,
        may_decide=role in EDITORS,
    )


@bp.route("/proposals/<int:proposal_id>/judging/reviewers", methods=["POST"])
@login_required
def assign(proposal_id: int) -> ResponseReturnValue:
    reviewer_id = forms.as_int(request.form.get("reviewer_id"))
    if not isinstance(reviewer_id, int):
        get_proposal(current_user, proposal_id)  # 404 first for those who may not see it
        flash("Choose a reviewer from the list.", "error")
        return _back(proposal_id)
    return _act(
        proposal_id,
        lambda: reviews.assign_reviewer(current_user, proposal_id, reviewer_id),
        "Reviewer assigned: they have been asked to score the proposal.",
    )


@bp.route("/proposals/<int:proposal_id>/judging/review", methods=["POST"])
@login_required
def review(proposal_id: int) -> ResponseReturnValue:
    entries = forms.review_entries(request.form)
    return _act(
        proposal_id,
        lambda: reviews.submit_review(current_user, proposal_id, entries),
        "Your scores are saved.",
    )


@bp.route("/proposals/<int:proposal_id>/judging/shortlist", methods=["POST"])
@login_required
def shortlist(proposal_id: int) -> ResponseReturnValue:
    on = forms.shortlisted(request.form)
    return _act(
        proposal_id,
        lambda: reviews.set_shortlisted(current_user, proposal_id, on),
        "Added to the shortlist." if on else "Taken off the shortlist.",
    )


def _closed_too(proposal_id: int) -> str:
    """After the last answer a need being judged closes itself: say so."""
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is not None and proposal.challenge.status == Status.CLOSED:
        return (
            " That was the last answer: the need is closed and its unspent escrow went back "
            "to the organization."
        )
    return ""


@bp.route("/proposals/<int:proposal_id>/judging/award", methods=["POST"])
@login_required
def award(proposal_id: int) -> ResponseReturnValue:
    proposal = get_proposal(current_user, proposal_id)
    rank = forms.as_int(request.form.get("prize_rank"))
    feedback = request.form.get("feedback", "")
    currency = proposal.challenge.current_terms.terms.currency

    def act() -> None:
        amount = forms.award_amount(request.form, currency)
        decisions.award_prize(current_user, proposal_id, rank, feedback, amount=amount)

    return _act(
        proposal_id,
        act,
        lambda: f"Prize {rank} awarded; the team has your feedback." + _closed_too(proposal_id),
    )


@bp.route("/proposals/<int:proposal_id>/judging/decline", methods=["POST"])
@login_required
def decline(proposal_id: int) -> ResponseReturnValue:
    feedback = request.form.get("feedback", "")
    return _act(
        proposal_id,
        lambda: decisions.decline_proposal(current_user, proposal_id, feedback),
        lambda: "Declined; the team has your feedback." + _closed_too(proposal_id),
    )


@bp.route("/challenges/<int:challenge_id>/judging/close", methods=["POST"])
@login_required
def close(challenge_id: int) -> ResponseReturnValue:
    try:
        closing.close_challenge(current_user, challenge_id)
    except Conflict as error:
        flash(error.message, "error")
    else:
        flash(
            "The need is closed: everyone who took part heard the outcome, and its unspent "
            "escrow went back to the organization.",
            "success",
        )
    return redirect(url_for("judging.board", challenge_id=challenge_id))
