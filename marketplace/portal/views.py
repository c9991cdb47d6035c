"""The organization portal /o/<slug> and its settings page."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)  # fmt: skip
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from marketplace.accounts.models import OrgRole
from marketplace.accounts.services import get_organization, require_role, role_in
from marketplace.challenges import search
from marketplace.challenges.forms import items
from marketplace.errors import Invalid
from marketplace.markdown import render_markdown
from marketplace.portal import services

bp = Blueprint("portal", __name__)

#: Needs shown per page of the portal.
PER_PAGE = 20


@bp.route("/o/<slug>")
def home(slug: str) -> ResponseReturnValue:
    organization = get_organization(slug)
    number = request.args.get("page", "1")
    number = int(number) if number.isdigit() and 0 < int(number) <= 10_000 else 1
    page = search.search(current_user, {"organization": slug, "status": "any", "sort": "deadline",
                                        "per_page": PER_PAGE, "page": number})  # fmt: skip
    return render_template(
        "portal/home.html", organization=organization, page=page,
        about=render_markdown(organization.about), role=role_in(current_user, organization),
    )  # fmt: skip


@bp.route("/o/<slug>/logo")
def logo(slug: str) -> ResponseReturnValue:
    organization = get_organization(slug)
    name = organization.logo_filename or ""
    extension = name.rsplit(".", 1)[-1]
    content_type = services.LOGO_CONTENT_TYPES.get(extension)
    if content_type is None:
        abort(404)
    response = send_from_directory(
        services.logo_folder(), name, mimetype=content_type, max_age=3600
    )
    # The type is fixed by us, never guessed by the browser from the bytes.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = f'inline; filename="logo.{extension}"'
    return response


@bp.route("/o/<slug>/settings", methods=["GET", "POST"])
@login_required
def settings(slug: str) -> ResponseReturnValue:
    organization = get_organization(slug)
    require_role(current_user, organization, OrgRole.OWNER)
    errors: dict = {}
    if request.method == "POST":
        upload = request.files.get("logo")
        try:
            services.save_portal(
                current_user, organization,
                tagline=request.form.get("tagline", ""), about=request.form.get("about", ""),
                primary_color=request.form.get("primary_color", ""),
                accent_color=request.form.get("accent_color", ""),
                email_domains=items(request.form.get("email_domains", "")),
                logo=upload.stream if upload and upload.filename else None,
            )  # fmt: skip
        except Invalid as error:
            errors = error.errors
        else:
            flash("Portal saved.", "success")
            return redirect(url_for("portal.home", slug=slug))
    return render_template(
        "portal/settings.html", organization=organization, errors=errors, form=request.form
    ), 422 if errors else 200
