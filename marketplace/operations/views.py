"""/readyz for the load balancer, and the platform admins' page of failed background jobs."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from marketplace.operations import jobs
from marketplace.operations.readiness import readiness

bp = Blueprint("operations", __name__)


@bp.route("/readyz")
def ready() -> ResponseReturnValue:
    parts = readiness(current_app)
    failing = {name: state for name, state in parts.items() if state != "ok"}
    body = {"status": "ok" if not failing else "unavailable", "checks": parts}
    return body, 200 if not failing else 503


@bp.route("/admin/jobs")
@login_required
def failed_jobs() -> ResponseReturnValue:
    page = request.args.get("page", 1, type=int)
    listing = jobs.troubled_jobs(current_user, page if page and page < 10**9 else 1)
    return render_template("operations/jobs.html", listing=listing)


@bp.route("/admin/jobs/<int:job_id>/retry", methods=["POST"])
@login_required
def retry_job(job_id: int) -> ResponseReturnValue:
    job = jobs.retry_job(current_user, job_id)
    flash(f"Job {job.id} ({job.function}) will be tried again.", "success")
    return redirect(url_for("operations.failed_jobs"))
