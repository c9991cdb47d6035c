"""Pages of the second factor: setting it up, the sign-in step that asks for a code, and the
confirmation page of recent re-authentication. See ``second_factor`` and ``reauth`` for the
rules."""

from __future__ import annotations

import time

import segno
from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from marketplace.accounts import second_factor, sessions
from marketplace.accounts.models import User
from marketplace.accounts.reauth import confirm_identity, mark_reauthenticated
from marketplace.accounts.second_factor import SecondFactorRequired
from marketplace.accounts.services import get_user
from marketplace.errors import Conflict, Invalid, NotFound, handle_domain_error, wants_json
from marketplace.extensions import limiter
from marketplace.forms import show_errors
from marketplace.urls import local_path

bp = Blueprint("second_factor", __name__)

#: The password step of a sign-in is good for this long while the code is asked.
SIGN_IN_SECONDS = 300
PENDING_KEY = "second_factor_sign_in"


class CodeForm(FlaskForm):
    code = StringField(
        "Code", validators=[DataRequired(), Length(max=40)], render_kw={"autocomplete": "off"}
    )


class ConfirmForm(FlaskForm):
    password = PasswordField("Password", validators=[Length(max=256)])
    code = StringField("Or a second-factor code", validators=[Length(max=40)])


def start_session(user: User, remember: bool) -> None:
    """Sign ``user`` in (the one place this module starts a session): a server-side session."""
    sessions.start_session(user, remember=remember)


# --- Signing in: after the password, the code. ---


def ask_second_factor(user: User, remember: bool, next_path: str | None) -> Response:
    """The password was right and ``user`` has a second factor: the session starts only once a
    code is typed, so keep who is signing in (not signed in yet) and ask for it."""
    session[PENDING_KEY] = {
        "user": user.id,
        "remember": bool(remember),
        "next": local_path(next_path),
        "until": int(time.time()) + SIGN_IN_SECONDS,
    }
    return redirect(url_for("second_factor.sign_in"))


def _pending_user() -> tuple[User, dict] | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
        return None
    user = get_user(int(pending.get("user") or 0))
    if user is None or not user.active:
        return None
    return user, pending


def _pending_key() -> str:
    """Failed codes are counted per account being signed in to, whatever the address."""
    pending = session.get(PENDING_KEY)
    return f"second-factor:{pending.get('user') if isinstance(pending, dict) else 'none'}"


def _address_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    return current_app.config["SECOND_FACTOR_RATE_LIMIT"]


def _failed(response: Response) -> bool:
    return response.status_code == 422


@bp.route("/login/second-factor", methods=["GET", "POST"])
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_account_limit, methods=["POST"], key_func=_pending_key, deduct_when=_failed)
def sign_in() -> ResponseReturnValue:
    """The second step of signing in: an authenticator code or a recovery code."""
    found = _pending_user()
    if found is None:
        session.pop(PENDING_KEY, None)
        flash("Sign in again: the sign-in was not finished in time.", "info")
        return redirect(url_for("accounts.login"))
    user, pending = found
    form = CodeForm()
    if form.validate_on_submit():
        try:
            used = second_factor.check_code(user, form.code.data, recovery=True)
        except (Invalid, NotFound) as error:
            show_errors(form, error if isinstance(error, Invalid) else Invalid(error.message))
        else:
            session.pop(PENDING_KEY, None)
            start_session(user, pending.get("remember", False))
            mark_reauthenticated(user)
            if used == "recovery":
                left = second_factor.recovery_codes_left(user)
                flash(f"You used a recovery code: {left} left. Make new ones on the second "
                      "factor page if you are running out.", "info")  # fmt: skip
            return redirect(pending.get("next") or url_for("main.home"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/second_factor_sign_in.html", form=form), status


# --- Setting it up, and turning it off. ---


def _qr_svg(uri: str) -> Markup:
    """The otpauth:// URI as an inline SVG QR code (no image request, nothing external)."""
    return Markup(segno.make(uri, error="m").svg_inline(scale=4, title="QR code to scan"))


def _page(status: int = 200, *, recovery_codes: list[str] | None = None) -> ResponseReturnValue:
    factor = second_factor.factor_of(current_user)
    enrolling = factor is not None and factor.confirmed_at is None
    uri = second_factor.provisioning_uri(current_user, factor) if enrolling else None
    response = make_response(
        render_template(
            "accounts/second_factor.html",
            factor=factor,
            enrolling=enrolling,
            uri=uri,
            qr=_qr_svg(uri) if uri else None,
            secret=factor.secret if enrolling else None,
            codes_left=second_factor.recovery_codes_left(current_user),
            recovery_codes=recovery_codes,
            form=CodeForm(),
            next_path=local_path(request.args.get("next")),
        ),
        status,
    )
    response.headers["Cache-Control"] = "no-store"  # a secret or recovery codes may be on it
    return response


@bp.route("/account/second-factor")
@login_required
def manage() -> ResponseReturnValue:
    return _page()


@bp.route("/account/second-factor/start", methods=["POST"])
@login_required
def start() -> ResponseReturnValue:
    if FlaskForm().validate_on_submit():  # its CSRF token only
        try:
            second_factor.start_enrolment(current_user)
        except Conflict as error:
            flash(error.message, "error")
    return redirect(url_for("second_factor.manage", next=request.args.get("next")))


def _with_code(action, success: str, *, codes: bool = False) -> ResponseReturnValue:
    """Run ``action(user, code)`` with the posted code; show the page again with the result."""
    form = CodeForm()
    if not form.validate_on_submit():
        flash("Type the code your authenticator app shows.", "error")
        return _page(422)
    try:
        result = action(current_user, form.code.data)
    except (Invalid, Conflict, NotFound) as error:
        message = " ".join(error.errors.get("code", [])) or error.message
        flash(message, "error")
        return _page(422)
    flash(success, "success")
    return _page(recovery_codes=result if codes else None)


@bp.route("/account/second-factor/confirm", methods=["POST"])
@login_required
def confirm_enrolment() -> ResponseReturnValue:
    return _with_code(
        second_factor.confirm_enrolment,
        "Your second factor is on. Keep the recovery codes below somewhere safe: each works "
        "once, instead of a code, if you lose your phone.",
        codes=True,
    )


@bp.route("/account/second-factor/recovery-codes", methods=["POST"])
@login_required
def new_recovery_codes() -> ResponseReturnValue:
    return _with_code(
        second_factor.new_recovery_codes,
        "New recovery codes: the old ones no longer work.",
        codes=True,
    )


@bp.route("/account/second-factor/disable", methods=["POST"])
@login_required
def disable() -> ResponseReturnValue:
    return _with_code(second_factor.disable, "Your second factor is off.")


# --- Recent re-authentication. ---


@bp.route("/account/confirm", methods=["GET", "POST"])
@login_required
@limiter.limit(_address_limit, methods=["POST"], deduct_when=_failed)
def confirm() -> ResponseReturnValue:
    """Confirm it is you (password, or a second-factor code) before a sensitive change."""
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            confirm_identity(current_user, password=form.password.data, code=form.code.data)
        except Invalid as error:
            show_errors(form, error)
        else:
            mark_reauthenticated(current_user)
            minutes = current_app.config["REAUTH_MINUTES"]
            flash(f"Thank you. For the next {minutes} minutes you will not be asked again.",
                  "success")  # fmt: skip
            return redirect(local_path(request.args.get("next")) or url_for("accounts.account"))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "accounts/confirm.html",
        form=form,
        has_second_factor=second_factor.has_second_factor(current_user),
    ), status


@bp.app_errorhandler(SecondFactorRequired)
def second_factor_required(error: SecondFactorRequired) -> ResponseReturnValue:
    """Pages send the person to set up their second factor (and back, for a page they were
    reading); the API answers 403 with the reason."""
    if wants_json() or not current_user.is_authenticated:
        return handle_domain_error(error)
    flash(error.message, "error")
    back = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("second_factor.manage", next=back))
