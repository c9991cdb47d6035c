"""HTML pages for accounts: register, log in and out, organizations and their members."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ledger import utcnow
from marketplace.accounts import recovery, scopes, second_factor, services, sessions, tokens
from marketplace.accounts.forms import (
    EmailChangeForm,
    EmptyForm,
    ForgotPasswordForm,
    LoginForm,
    MemberForm,
    OrganizationForm,
    PasswordForm,
    RegisterForm,
    ResetPasswordForm,
)
from marketplace.accounts.limits import (
    login_account_limit,
    password_reset_account_limit,
    password_reset_address_limit,
    registration_account_limit,
    registration_address_limit,
)
from marketplace.accounts.models import SessionEnd
from marketplace.accounts.reauth import mark_reauthenticated, recent_authentication_required
from marketplace.accounts.second_factor_views import ask_second_factor, start_session
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.extensions import limiter
from marketplace.forms import flash_error, show_errors
from marketplace.pagination import html_page
from marketplace.time import viewer_zone
from marketplace.urls import local_path

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    """Only redirect to paths on this site after login."""
    return local_path(target) or url_for("main.home")


@bp.route("/register", methods=["GET", "POST"])
@registration_address_limit
@registration_account_limit
def register() -> ResponseReturnValue:
    """The same answer for a new address and a registered one (``services.sign_up``): a
    new registrant continues from the link in their inbox."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            services.sign_up(form.email.data, form.name.data, form.password.data)
        except Invalid as error:
            show_errors(form, error)
        else:
            return redirect(url_for("accounts.check_email"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/register.html", form=form), status


@bp.route("/register/check-email")
def check_email() -> ResponseReturnValue:
    return render_template("accounts/check_email.html")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    _login_limit,
    methods=["POST"],
    error_message="Too many sign-in attempts from your address. Wait a little, then try again.",
)
@login_account_limit
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except Invalid as error:
            show_errors(form, error)
        else:
            if second_factor.has_second_factor(user):
                return ask_second_factor(user, form.remember.data, request.args.get("next"))
            start_session(user, form.remember.data)
            mark_reauthenticated(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    if EmptyForm().validate_on_submit():
        sessions.end_current_session()
        flash("You are signed out.", "success")
    return redirect(url_for("main.home"))


#: The expiry the token form suggests.
SUGGESTED_TOKEN_DAYS = 90


def _account_page(
    new_token: tuple | None = None,
    token_errors: dict[str, list[str]] | None = None,
    status: int = 200,
    password_form: PasswordForm | None = None,
):
    today = datetime.now(viewer_zone()).date()
    return render_template(
        "accounts/account.html",
        organizations=services.organizations_of(current_user),
        tokens=tokens.tokens_of(current_user),
        new_token=new_token,
        token_errors=token_errors or {},
        token_form=request.form if token_errors else {},
        areas=scopes.DESCRIPTIONS,
        money_scopes=scopes.MONEY_SCOPES,
        now=utcnow(),
        suggested_expiry=today + timedelta(days=SUGGESTED_TOKEN_DAYS),
        earliest_expiry=today + timedelta(days=1),
        latest_expiry=tokens.latest_expiry(datetime.now(viewer_zone())).date(),
        sessions=sessions.sessions_of(current_user),
        this_session=sessions.current_session(),
        password_form=password_form or PasswordForm(formdata=None),
    ), status


def _expiry_from_form(text: str) -> datetime | None:
    """The start of the chosen day in the viewer's time zone: "expires on 1 March" means it
    stops working as 1 March begins. None when no date was given."""
    if not text.strip():
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(
            "Please correct the highlighted fields.",
            {"expires_at": ["Give the expiry date as YYYY-MM-DD."]},
        ) from None
    return datetime.combine(day, dt_time(), tzinfo=viewer_zone()).astimezone(UTC)


@bp.route("/account")
@login_required
def account() -> ResponseReturnValue:
    return _account_page()


@bp.route("/account/tokens", methods=["POST"])
@login_required
@recent_authentication_required(back="accounts.account")
def create_token() -> ResponseReturnValue:
    """Make an API token and show its secret on this one answer. Not through a flash message:
    those travel in the session cookie, which the browser can read and keeps sending."""
    if not EmptyForm().validate_on_submit():  # CSRF
        return redirect(url_for("accounts.account"))
    try:
        token, secret = tokens.create_token(
            current_user,
            request.form.get("name", ""),
            request.form.getlist("scopes"),
            _expiry_from_form(request.form.get("expires_on", "")),
        )
    except Invalid as error:
        return _account_page(token_errors=error.errors or {"": [error.message]}, status=422)
    response = make_response(_account_page(new_token=(token, secret)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    if EmptyForm().validate_on_submit():
        token = tokens.revoke_token(current_user, token_id)
        flash(f"Token “{token.name}” is revoked; it no longer works.", "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/password", methods=["POST"])
@limiter.limit(_login_limit)
@login_required
def change_password() -> ResponseReturnValue:
    """A new password; every other session of the user ends, this one stays."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            ended = services.change_password(
                current_user,
                form.current_password.data,
                form.new_password.data,
                keep=sessions.current_session(),
            )
        except Invalid as error:
            show_errors(form, error)
        else:
            flash(
                f"Your password is changed. Other sessions signed out: {ended}. Your API tokens "
                "still work: revoke any you no longer trust below.",
                "success",
            )
            return redirect(url_for("accounts.account"))
    return _account_page(password_form=form, status=422)


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def end_session(session_id: int) -> ResponseReturnValue:
    if not EmptyForm().validate_on_submit():  # CSRF
        return redirect(url_for("accounts.account"))
    ended = sessions.end_session(current_user, session_id)
    if ended == sessions.current_session():
        sessions.end_current_session()
        flash("You are signed out.", "success")
        return redirect(url_for("accounts.login"))
    flash("That session is signed out.", "success")
    return redirect(url_for("accounts.account", _anchor="sessions"))


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions() -> ResponseReturnValue:
    if EmptyForm().validate_on_submit():
        ended = sessions.end_sessions(
            current_user, keep=sessions.current_session(), reason=SessionEnd.ENDED_BY_USER
        )
        flash(f"Signed out {ended} other session{'' if ended == 1 else 's'}.", "success")
    return redirect(url_for("accounts.account", _anchor="sessions"))


@bp.route("/organizations/new", methods=["GET", "POST"])
@login_required
def new_organization() -> ResponseReturnValue:
    form = OrganizationForm()
    if form.validate_on_submit():
        try:
            organization = services.create_organization(
                current_user, form.name.data, form.slug.data
            )
        except Invalid as error:
            show_errors(form, error)
        else:
            flash(f"{organization.name} is created; you are its owner.", "success")
            return redirect(url_for("accounts.members", slug=organization.slug))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/new_organization.html", form=form), status


@bp.route("/organizations/<slug>/members", methods=["GET", "POST"])
@login_required
@recent_authentication_required(back="accounts.members")
def members(slug: str) -> ResponseReturnValue:
    organization = services.get_organization(slug)
    role = services.require_role(current_user, organization, *services.OrgRole)
    form = MemberForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.set_member(current_user, organization, form.email.data, form.role.data)
        except (Invalid, Conflict) as error:
            show_errors(form, error)
            status = 422
        else:
            flash("Membership saved.", "success")
            return redirect(url_for("accounts.members", slug=slug))
    elif form.is_submitted():
        status = 422
    page = html_page(
        lambda cursor, per_page: services.members_page(
            organization, cursor=cursor, per_page=per_page
        ),
        request.args,
    )
    return render_template(
        "accounts/members.html",
        organization=organization,
        page=page,
        my_role=role,
        form=form,
        remove_form=EmptyForm(),
    ), status


@bp.route("/organizations/<slug>/members/<int:user_id>/remove", methods=["POST"])
@login_required
@recent_authentication_required(back="accounts.members")
def remove_member(slug: str, user_id: int) -> ResponseReturnValue:
    organization = services.get_organization(slug)
    if EmptyForm().validate_on_submit():
        try:
            services.remove_member(current_user, organization, user_id)
        except Conflict as error:
            flash(error.message, "error")
        else:
            flash("Member removed.", "success")
    return redirect(url_for("accounts.members", slug=slug))


@bp.route("/verify-email/<token>", methods=["GET", "POST"])
def verify(token: str) -> ResponseReturnValue:
    """GET shows the link's button and changes nothing; POST confirms the address, and signs
    a new registrant in (only on the first confirmation, and only if nobody is signed in)."""
    form = EmptyForm()
    try:
        if not form.validate_on_submit():
            user = services.verification_link_user(token)
            return render_template("accounts/confirm_email.html", form=form, email=user.email)
        user, first = services.verify_email(token)
    except Invalid as error:
        return _link_refused("Email confirmation", error)
    if first and not current_user.is_authenticated and not second_factor.has_second_factor(user):
        # Not a proof of the password: no re-authentication mark; and someone who set up a
        # second factor in the meantime signs in with it, not by this link.
        start_session(user, False)
        flash(f"Welcome! {user.email} is confirmed and you are signed in.", "success")
        return redirect(url_for("main.home"))
    flash(f"{user.email} is confirmed.", "success")
    return redirect(
        url_for("accounts.account") if current_user.is_authenticated else url_for("main.home")
    )


def _link_refused(title: str, error: Invalid | Forbidden) -> ResponseReturnValue:
    status = 403 if isinstance(error, Forbidden) else 410
    return render_template(
        "errors/error.html", status=status, title=title, detail=error.message
    ), status


@bp.route("/reset-password", methods=["GET", "POST"])
@password_reset_address_limit
@password_reset_account_limit
def forgot_password() -> ResponseReturnValue:
    """Ask for a reset link: the same answer whether or not the address has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        recovery.request_password_reset(form.email.data)
        return redirect(url_for("accounts.reset_sent"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/forgot_password.html", form=form), status


@bp.route("/reset-password/sent")
def reset_sent() -> ResponseReturnValue:
    return render_template("accounts/reset_sent.html")


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    """GET shows the new-password form (the link stays usable); POST sets the password."""
    form = ResetPasswordForm()
    try:
        user = recovery.reset_link_user(token)
    except Invalid as error:
        return _link_refused("Password reset", error)
    if form.validate_on_submit():
        try:
            recovery.reset_password(token, form.password.data)
        except Invalid as error:
            show_errors(form, error)
        else:
            sessions.end_current_session()  # ended with the others: forget its cookies
            flash("Your password is changed. Sign in with the new one.", "success")
            return redirect(url_for("accounts.login"))
    response = make_response(
        render_template("accounts/reset_password.html", form=form, email=user.email),
        422 if form.is_submitted() else 200,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's URL
    return response


@bp.route("/account/email", methods=["GET", "POST"])
@login_required
def change_email() -> ResponseReturnValue:
    """Ask to move the account to another address: a link goes to the new one."""
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            new_email = recovery.request_email_change(
                current_user, form.email.data, form.password.data
            )
        except Invalid as error:
            show_errors(form, error)
        else:
            flash(
                f"We sent a link to {new_email}. Your address changes once you open it "
                "(signed in as you) and confirm.",
                "success",
            )
            return redirect(url_for("accounts.account"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/change_email.html", form=form), status


@bp.route("/account/email/confirm/<token>", methods=["GET", "POST"])
@login_required
def confirm_email_change(token: str) -> ResponseReturnValue:
    """GET shows the change and its button; POST makes it."""
    form = EmptyForm()
    try:
        if not form.validate_on_submit():
            new_email = recovery.email_change_of(current_user, token)
            return render_template(
                "accounts/confirm_email_change.html", form=form, new_email=new_email
            )
        user = recovery.confirm_email_change(current_user, token)
    except (Invalid, Forbidden) as error:
        return _link_refused("Email change", error)
    flash(f"Your account's address is now {user.email}.", "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/verify-email", methods=["POST"])
@login_required
def resend_verification() -> ResponseReturnValue:
    services.send_verification_email(current_user)
    flash(f"We sent a confirmation link to {current_user.email}.", "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/profile", methods=["POST"])
@login_required
def profile() -> ResponseReturnValue:
    try:
        services.update_profile(
            current_user,
            name=request.form.get("name", ""),
            country=request.form.get("country", ""),
            timezone=request.form.get("timezone", ""),
        )
    except Invalid as error:
        flash_error(error)
    else:
        flash("Profile saved.", "success")
    return redirect(url_for("accounts.account"))
