"""HTML pages for proposals: write, team and split, files, private thread, solver home."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from marketplace.accounts.limits import invitation_limit
from marketplace.challenges.access import get_visible, role_for
from marketplace.challenges.models import Challenge
from marketplace.challenges.terms import IP_LABELS
from marketplace.errors import DomainError, Invalid
from marketplace.forms import flash_error
from marketplace.judging.decisions import decision_of
from marketplace.pagination import html_page
from marketplace.proposals import attachments, messages, services, team
from marketplace.proposals.access import (
    Side,
    get_proposal,
    get_proposal_metadata,
    may_see_need,
    membership,
    proposals_of,
    require_team,
    side_of,
)
from marketplace.proposals.forms import (
    PERCENT_MESSAGE,
    as_int,
    percent,
    percent_to_bp,
    proposal_input,
    proposal_values,
    shares_input,
)
from marketplace.proposals.home import solver_home
from marketplace.proposals.models import ProposalStatus

bp = Blueprint("proposals", __name__)
CHANGEABLE = (ProposalStatus.DRAFT, ProposalStatus.SUBMITTED)


def _to_proposal(proposal_id: int, anchor: str = "") -> ResponseReturnValue:
    return redirect(url_for("proposals.detail", proposal_id=proposal_id, _anchor=anchor or None))


def _act(
    proposal_id: int, action: Callable[[], object], success: str, anchor: str = ""
) -> ResponseReturnValue:
    """Run one service call for the proposal page; a refusal becomes a flash message there.

    A 404 (the proposal is not theirs to see) stays a 404, so nothing leaks."""
    try:
        action()
    except DomainError as error:
        if error.status == 404 and not error.errors:
            raise
        flash_error(error)
    else:
        flash(success, "success")
    return _to_proposal(proposal_id, anchor)


@bp.route("/challenges/<int:challenge_id>/proposals/new", methods=["GET", "POST"])
@login_required
def new(challenge_id: int) -> ResponseReturnValue:
    challenge = get_visible(current_user, challenge_id)
    errors: dict = {}
    if request.method == "GET":
        refusal = services.why_not_propose(current_user, challenge)
        if refusal:
            flash(refusal, "error")
            return redirect(url_for("challenges.detail", challenge_id=challenge.id))
    if request.method == "POST":
        data, errors = proposal_input(request.form)
        if not errors:
            try:
                proposal = services.create_proposal(current_user, challenge.id, data)
            except Invalid as error:
                errors = error.errors
                if not errors:
                    flash(error.message, "error")
            except DomainError as error:
                flash(error.message, "error")
                return redirect(url_for("challenges.detail", challenge_id=challenge.id))
            else:
                flash("Draft saved. Invite your team, then submit it.", "success")
                return _to_proposal(proposal.id)
    return render_template(
        "proposals/edit.html",
        challenge=challenge,
        proposal=None,
        values=request.form if request.method == "POST" else {},
        errors=errors,
    ), 422 if errors else 200


@bp.route("/proposals/<int:proposal_id>/edit", methods=["GET", "POST"])
@login_required
def edit(proposal_id: int) -> ResponseReturnValue:
    proposal = get_proposal(current_user, proposal_id)
    require_team(current_user, proposal)
    errors: dict = {}
    if request.method == "POST":
        data, errors = proposal_input(request.form)
        if not errors:
            try:
                services.update_proposal(current_user, proposal.id, data)
            except Invalid as error:
                errors = error.errors
                if not errors:
                    flash(error.message, "error")
            except DomainError as error:
                if error.status == 404:
                    raise
                flash(error.message, "error")
                return _to_proposal(proposal.id)
            else:
                flash("Proposal saved.", "success")
                return _to_proposal(proposal.id)
    return render_template(
        "proposals/edit.html",
        challenge=proposal.challenge,
        proposal=proposal,
        values=request.form if request.method == "POST" else proposal_values(proposal),
        errors=errors,
    ), 422 if errors else 200


@bp.route("/proposals/<int:proposal_id>")
@login_required
def detail(proposal_id: int) -> ResponseReturnValue:
    proposal, full = get_proposal_metadata(current_user, proposal_id)
    side = side_of(current_user, proposal)
    if not full:
        return render_template("proposals/metadata.html", proposal=proposal, side=side)
    me = membership(current_user, proposal)
    decision = decision_of(proposal)
    names = {m.user_id: (m.user.name if m.user else m.email) for m in proposal.members}
    return render_template(
        "proposals/detail.html",
        proposal=proposal,
        challenge=proposal.challenge,
        need_visible=may_see_need(current_user, proposal),
        side=side,
        role=role_for(current_user, proposal.challenge),
        me=me,
        is_lead=bool(me and me.is_lead),
        changeable=proposal.status in CHANGEABLE and proposal.challenge.status == "open",
        problems=(
            services.submission_problems(proposal)
            if me and proposal.status == ProposalStatus.DRAFT
            else {}
        ),
        thread=messages.thread(current_user, proposal.id),
        may_write=side in (Side.TEAM, Side.SEEKER),
        decision=decision,
        award=decision.award if decision else None,
        names=names,
        ip_labels=IP_LABELS,
        max_file_mb=attachments.max_bytes() // (1024 * 1024),
        allowed_types=attachments.ALLOWED,
    )


@bp.route("/proposals/<int:proposal_id>/submit", methods=["POST"])
@login_required
def submit(proposal_id: int) -> ResponseReturnValue:
    return _act(
        proposal_id,
        lambda: services.submit_proposal(current_user, proposal_id),
        "Submitted: the seeker can read your proposal now.",
    )


@bp.route("/proposals/<int:proposal_id>/withdraw", methods=["POST"])
@login_required
def withdraw(proposal_id: int) -> ResponseReturnValue:
    return _act(
        proposal_id,
        lambda: services.withdraw_proposal(current_user, proposal_id),
        "The proposal is withdrawn.",
    )


@bp.route("/proposals/<int:proposal_id>/team/invite", methods=["POST"])
@login_required
def invite(proposal_id: int) -> ResponseReturnValue:
    share = percent_to_bp(request.form.get("share_percent"), blank=0)
    if share is None:
        get_proposal(current_user, proposal_id)  # 404 before any hint about the input
        flash(PERCENT_MESSAGE, "error")
        return _to_proposal(proposal_id, "team")
    email = request.form.get("email", "")

    def action() -> None:
        member, token = team.invite_member(current_user, proposal_id, email, share)
        link = url_for("proposals.join", token=token, _external=True)
        flash(f"Invitation for {member.email} (single use, 14 days): {link}", "info")

    return _act(proposal_id, action, "Invitation sent.", "team")


@bp.route("/proposals/<int:proposal_id>/team/split", methods=["POST"])
@login_required
def split(proposal_id: int) -> ResponseReturnValue:
    proposal = get_proposal(current_user, proposal_id)
    shares, problems = shares_input(request.form, [m.id for m in proposal.members])
    if problems:
        flash(" ".join(problems), "error")
        return _to_proposal(proposal.id, "team")
    return _act(
        proposal.id,
        lambda: team.set_split(current_user, proposal.id, shares),
        "Split saved; every member confirms it again.",
        "team",
    )


@bp.route("/proposals/<int:proposal_id>/team/confirm", methods=["POST"])
@login_required
def confirm(proposal_id: int) -> ResponseReturnValue:
    version = as_int(request.form.get("version")) or 0
    return _act(
        proposal_id,
        lambda: team.confirm_split(current_user, proposal_id, version),
        "You confirmed this split.",
        "team",
    )


@bp.route("/proposals/<int:proposal_id>/team/remove", methods=["POST"])
@login_required
def remove_member(proposal_id: int) -> ResponseReturnValue:
    member_id = as_int(request.form.get("member_id")) or 0
    me = membership(current_user, get_proposal(current_user, proposal_id))
    leaving = me is not None and me.id == member_id

    def action() -> None:
        team.remove_member(current_user, proposal_id, member_id)

    if leaving:
        try:
            action()
        except DomainError as error:
            flash_error(error)
            return _to_proposal(proposal_id, "team")
        flash("You left the team.", "success")
        return redirect(url_for("proposals.mine"))
    return _act(proposal_id, action, "Removed from the team; set the split again.", "team")


@bp.route("/proposals/<int:proposal_id>/attachments", methods=["POST"])
@login_required
def upload(proposal_id: int) -> ResponseReturnValue:
    upload = request.files.get("file")

    def action() -> None:
        if upload is None or not upload.filename:
            get_proposal(current_user, proposal_id)
            raise Invalid("The file was not accepted.", {"file": ["Choose a file."]})
        attachments.add_attachment(current_user, proposal_id, upload.filename, upload.stream)

    return _act(proposal_id, action, "File added.", "files")


@bp.route("/proposals/<int:proposal_id>/attachments/<int:attachment_id>")
@login_required
def download(proposal_id: int, attachment_id: int) -> ResponseReturnValue:
    found = attachments.download(current_user, proposal_id, attachment_id)
    response = send_file(
        found.path,
        mimetype=found.content_type,
        as_attachment=True,
        download_name=found.filename,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/proposals/<int:proposal_id>/attachments/<int:attachment_id>/remove", methods=["POST"])
@login_required
def remove_attachment(proposal_id: int, attachment_id: int) -> ResponseReturnValue:
    return _act(
        proposal_id,
        lambda: attachments.remove_attachment(current_user, proposal_id, attachment_id),
        "File removed.",
        "files",
    )


@bp.route("/proposals/<int:proposal_id>/messages", methods=["POST"])
@login_required
def post_message(proposal_id: int) -> ResponseReturnValue:
    body = request.form.get("body", "")
    return _act(
        proposal_id,
        lambda: messages.post_message(current_user, proposal_id, body),
        "Message sent.",
        "messages",
    )


@bp.route("/team-invitations/<token>", methods=["GET", "POST"])
@login_required
@invitation_limit
def join(token: str) -> ResponseReturnValue:
    try:
        member = team.invitation(token)
        if member.email != current_user.email:
            raise Invalid(f"This invitation is for {member.email}; sign in with that address.")
        if request.method == "POST":
            proposal = team.join_team(current_user, token)
    except Invalid as error:
        return render_template(
            "errors/error.html", status=410, title="Team invitation", detail=error.message
        ), 410
    except DomainError as error:
        if request.method == "GET":
            raise
        flash(error.message, "error")
        return redirect(url_for("proposals.join", token=token))
    if request.method == "POST":
        flash(f"Welcome to the team of “{proposal.title}”. Check the split and confirm it.",
              "success")  # fmt: skip
        return _to_proposal(proposal.id, "team")
    proposal = member.proposal
    return render_template(
        "proposals/join.html",
        member=member,
        proposal=proposal,
        challenge=proposal.challenge,
        lead=proposal.lead,
        need_open=may_see_need(current_user, proposal),
    )


@bp.route("/me/proposals")
@login_required
def mine() -> ResponseReturnValue:
    home = html_page(
        lambda cursor, per_page: solver_home(current_user, cursor=cursor, per_page=per_page),
        request.args,
    )
    return render_template("proposals/home.html", home=home)


@bp.app_template_filter("percent")
def percent_filter(bp_value: int) -> str:
    return percent(bp_value or 0)


@bp.app_template_global()
def may_propose(challenge: Challenge) -> bool:
    """Whether the signed-in viewer may write a proposal for this need (the service's rule)."""
    return current_user.is_authenticated and not services.why_not_propose(current_user, challenge)


@bp.app_template_global()
def my_proposals_for(challenge: Challenge) -> list:
    """The signed-in viewer's proposals for this need (for the need's page)."""
    if not current_user.is_authenticated:
        return []
    return proposals_of(current_user, challenge_id=challenge.id)
