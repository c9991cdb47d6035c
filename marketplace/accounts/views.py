"""HTML pages for accounts: register, log in and out, organizations and their members."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user

from marketplace.accounts import services
from marketplace.accounts.forms import (
    EmptyForm,
    LoginForm,
    MemberForm,
    OrganizationForm,
    RegisterForm,
)
from marketplace.errors import Conflict, Invalid
from marketplace.extensions import limiter
from marketplace.forms import show_errors

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    """Only redirect to paths on this site after login."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("main.home")


@bp.route("/register", methods=["GET", "POST"])
def register() -> ResponseReturnValue:
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register_user(form.email.data, form.name.data, form.password.data)
        except Invalid as error:
            show_errors(form, error)
        else:
            login_user(user)
            flash("Welcome! Your account is ready.", "success")
            return redirect(url_for("main.home"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/register.html", form=form), status


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except Invalid as error:
            show_errors(form, error)
        else:
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    if EmptyForm().validate_on_submit():
        logout_user()
        flash("You are signed out.", "success")
    return redirect(url_for("main.home"))


@bp.route("/account")
@login_required
def account() -> ResponseReturnValue:
    return render_template(
        "accounts/account.html", organizations=services.organizations_of(current_user)
    )


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
    return render_template(
        "accounts/members.html",
        organization=organization,
        my_role=role,
        form=form,
        remove_form=EmptyForm(),
    ), status


@bp.route("/organizations/<slug>/members/<int:user_id>/remove", methods=["POST"])
@login_required
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
