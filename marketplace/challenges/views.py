"""HTML pages for needs: browse and search, write, fund, open, amend, accept terms, invite."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from marshmallow import ValidationError

from marketplace.accounts.forms import EmptyForm
from marketplace.accounts.limits import invitation_limit
from marketplace.accounts.services import get_organization, organizations_of
from marketplace.challenges import search as search_service
from marketplace.challenges import services
from marketplace.challenges.access import EDITORS, FUNDERS, get_visible, require, role_for
from marketplace.challenges.forms import (
    NEW_NEED_DEFAULTS,
    flat_messages,
    need_input,
    need_values,
    terms_input,
    terms_values,
    to_minor,
)
from marketplace.challenges.models import Maturity, Status
from marketplace.challenges.schemas import NeedSchema, SearchSchema, TermsSchema
from marketplace.challenges.terms import IP_LABELS, terms_diff
from marketplace.dialogue import services as dialogue
from marketplace.errors import Conflict, Invalid
from marketplace.forms import flash_error
from marketplace.insight.visits import record_view, visitor_key
from marketplace.payments.services import escrow_available, funding_shortfall, payments_of

bp = Blueprint("challenges", __name__)
MATURITY_OPTIONS = [(m.value, m.value.replace("_", " ").capitalize()) for m in Maturity]


def _viewer_timezone() -> str:
    return current_user.timezone if current_user.is_authenticated else "UTC"


def _parse_need_and_terms() -> tuple[dict, object, dict]:
    """(need, terms, errors) from the posted form; errors maps field names to messages."""
    errors: dict[str, list[str]] = {}
    need, terms = {}, None
    try:
        need = NeedSchema().load(need_input(request.form))
    except ValidationError as error:
        errors.update(error.normalized_messages())
    try:
        terms = TermsSchema().load(terms_input(request.form, _viewer_timezone()))
    except ValidationError as error:
        errors.update(error.normalized_messages())
    return need, terms, errors


def _search_args() -> dict[str, str | int]:
    """The browse form's fields; people type prize bounds in major units (5,000.00)."""
    args: dict[str, str | int] = {k: v for k, v in request.args.items() if v != ""}
    for bound in ("min_reward", "max_reward"):
        if bound in args:
            args[bound] = to_minor(str(args[bound]), 2)
    return args


@bp.route("/challenges")
def browse() -> ResponseReturnValue:
    try:
        query = SearchSchema().load(_search_args())
    except ValidationError as error:
        return render_template(
            "challenges/browse.html",
            page=None,
            query=request.args,
            errors=error.messages,
            maturities=list(Maturity),
        ), 422
    page = search_service.search(current_user, query)
    return render_template(
        "challenges/browse.html", page=page, query=query, errors={}, maturities=list(Maturity)
    )


@bp.route("/challenges/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    mine = [org for org, role in organizations_of(current_user) if role in EDITORS]
    if not mine:
        flash("Create an organization (or ask its owner to make you a manager) first.", "info")
        return redirect(url_for("accounts.new_organization"))
    errors: dict = {}
    if request.method == "POST":
        need, terms, errors = _parse_need_and_terms()
        if not errors:
            organization = get_organization(request.form.get("organization", ""))
            try:
                challenge = services.create_challenge(current_user, organization, need, terms)
            except Invalid as error:
                errors = error.errors
            else:
                flash("Draft saved. Fund the prize pool, then open it.", "success")
                return redirect(url_for("challenges.detail", challenge_id=challenge.id))
    return render_template(
        "challenges/edit.html",
        challenge=None,
        organizations=mine,
        values=request.form if request.method == "POST" else NEW_NEED_DEFAULTS,
        errors=errors,
        maturity_options=MATURITY_OPTIONS,
        ip_labels=IP_LABELS,
    ), 422 if errors else 200


@bp.route("/challenges/<int:challenge_id>")
def detail(challenge_id: int) -> ResponseReturnValue:
    challenge = get_visible(current_user, challenge_id)
    role = role_for(current_user, challenge)
    terms = challenge.current_terms.terms
    page = render_template(
        "challenges/detail.html",
        challenge=challenge,
        terms=terms,
        role=role,
        can_edit=role in EDITORS,
        can_fund=role in FUNDERS,
        accepted=services.accepted_version(current_user, challenge),
        show_confidential=services.may_see_confidential(current_user, challenge),
        eligibility=(
            services.eligibility_problem(current_user, challenge, terms)
            if current_user.is_authenticated
            else None
        ),
        escrow=escrow_available(challenge) if role else None,
        shortfall=funding_shortfall(challenge) if role else None,
        payments=payments_of(challenge) if role in FUNDERS else [],
        clarifications=dialogue.clarifications_for(current_user, challenge),
        updates=dialogue.updates_of(challenge),
        ip_labels=IP_LABELS,
    )
    if role is None:  # the organization's own staff do not count as views
        user_id = current_user.id if current_user.is_authenticated else None
        browser = request.user_agent.string
        secret = current_app.config["SECRET_KEY"]
        record_view(challenge.id, visitor_key(user_id, request.remote_addr, browser, secret))
    return page


@bp.route("/challenges/<int:challenge_id>/edit", methods=["GET", "POST"])
@login_required
def edit(challenge_id: int) -> ResponseReturnValue:
    challenge = get_visible(current_user, challenge_id)
    require(current_user, challenge, EDITORS, "edit this need")
    errors: dict = {}
    if request.method == "POST":
        try:
            need = NeedSchema().load(need_input(request.form))
            services.update_need(current_user, challenge, need)
        except ValidationError as error:
            errors = error.normalized_messages()
        except Conflict as error:
            flash(error.message, "error")
        else:
            flash("Need saved.", "success")
            return redirect(url_for("challenges.detail", challenge_id=challenge.id))
    return render_template(
        "challenges/edit.html",
        challenge=challenge,
        organizations=[],
        values=request.form if request.method == "POST" else need_values(challenge),
        errors=errors,
        maturity_options=MATURITY_OPTIONS,
        ip_labels=IP_LABELS,
    ), 422 if errors else 200


@bp.route("/challenges/<int:challenge_id>/terms/amend", methods=["GET", "POST"])
@login_required
def amend(challenge_id: int) -> ResponseReturnValue:
    challenge = get_visible(current_user, challenge_id)
    require(current_user, challenge, EDITORS, "change the terms")
    errors: dict = {}
    if request.method == "POST":
        try:
            terms = TermsSchema().load(terms_input(request.form, _viewer_timezone()))
            amendment = services.amend_terms(
                current_user, challenge, terms, request.form.get("change_note", "")
            )
        except ValidationError as error:
            errors = error.normalized_messages()
        except Invalid as error:
            errors = error.errors
            flash(error.message, "error")
        except Conflict as error:
            flash(error.message, "error")
        else:
            flash(f"Terms version {amendment.version.version} published.", "success")
            return redirect(
                url_for(
                    "challenges.terms_version",
                    challenge_id=challenge.id,
                    version=amendment.version.version,
                )
            )
    return render_template(
        "challenges/amend.html",
        challenge=challenge,
        terms=challenge.current_terms.terms,
        values=request.form
        if request.method == "POST"
        else terms_values(challenge.current_terms.terms, _viewer_timezone()),
        errors=errors,
        ip_labels=IP_LABELS,
    ), 422 if errors else 200


@bp.route("/challenges/<int:challenge_id>/terms/<int:version>")
def terms_version(challenge_id: int, version: int) -> ResponseReturnValue:
    challenge = get_visible(current_user, challenge_id)
    versions = {v.version: v for v in challenge.versions}
    if version not in versions:
        abort(404)
    current = versions[version]
    previous = versions.get(version - 1)
    diff = terms_diff(previous.terms, current.terms) if previous else []
    return render_template(
        "challenges/terms.html",
        challenge=challenge,
        version=current,
        terms=current.terms,
        previous=previous,
        diff=diff,
        ip_labels=IP_LABELS,
    )


def _act(challenge_id: int, action: Callable[..., object], success: str) -> ResponseReturnValue:
    """Run one lifecycle step on a need; a refusal becomes a message on its page."""
    challenge = get_visible(current_user, challenge_id)
    try:
        action(current_user, challenge)
    except Conflict as error:
        flash(error.message, "error")
    else:
        flash(success, "success")
    return redirect(url_for("challenges.detail", challenge_id=challenge.id))


@bp.route("/challenges/<int:challenge_id>/open", methods=["POST"])
@login_required
def open_(challenge_id: int) -> ResponseReturnValue:
    return _act(challenge_id, services.open_challenge, "The need is open: solvers can find it now.")


@bp.route("/challenges/<int:challenge_id>/cancel", methods=["POST"])
@login_required
def cancel(challenge_id: int) -> ResponseReturnValue:
    return _act(
        challenge_id,
        services.cancel_challenge,
        "The need is cancelled; its escrow went back to you.",
    )


@bp.route("/challenges/<int:challenge_id>/accept", methods=["POST"])
@login_required
def accept(challenge_id: int) -> ResponseReturnValue:
    try:
        acceptance = services.accept_terms(current_user, challenge_id)
    except Conflict as error:
        flash(error.message, "error")
    else:
        flash(
            f"You accepted terms version {acceptance.terms_version.version} "
            f"(SHA-256 {acceptance.sha256[:12]}…).",
            "success",
        )
    return redirect(url_for("challenges.detail", challenge_id=challenge_id))


@bp.route("/challenges/<int:challenge_id>/invitations", methods=["POST"])
@login_required
def invite(challenge_id: int) -> ResponseReturnValue:
    challenge = get_visible(current_user, challenge_id)
    try:
        invitation, token = services.invite_partner(
            current_user, challenge, request.form.get("email", ""), request.form.get("name", "")
        )
    except (Invalid, Conflict) as error:
        flash_error(error)
    else:
        link = url_for("challenges.redeem", token=token, _external=True)
        flash(f"Invitation for {invitation.email} (single use, 14 days): {link}", "success")
    return redirect(url_for("challenges.detail", challenge_id=challenge.id))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@login_required
@invitation_limit
def redeem(token: str) -> ResponseReturnValue:
    """GET shows the invitation and its button, changing nothing; POST redeems it."""
    try:
        if request.method == "GET":
            invitation = services.invitation_for(current_user, token)
            return render_template(
                "challenges/invitation.html",
                invitation=invitation,
                challenge=invitation.challenge,
                form=EmptyForm(),
            )
        if not EmptyForm().validate_on_submit():
            return redirect(url_for("challenges.redeem", token=token))
        challenge = services.redeem_invitation(current_user, token)
    except Invalid as error:
        return render_template(
            "errors/error.html", status=410, title="Invitation", detail=error.message
        ), 410
    flash("Welcome: you are invited to this need.", "success")
    return redirect(url_for("challenges.detail", challenge_id=challenge.id))


@bp.app_template_filter("flat_messages")
def flat_messages_filter(errors: object) -> list[str]:
    return flat_messages(errors)


@bp.app_template_global()
def status_label(status: str) -> str:
    return {
        Status.DRAFT: "Draft",
        Status.OPEN: "Open",
        Status.JUDGING: "Judging",
        Status.CLOSED: "Closed",
        Status.CANCELLED: "Cancelled",
    }[Status(status)]
