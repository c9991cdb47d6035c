"""Background jobs that need a person: the operations page's read model and its retry."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.accounts.services import require_platform_admin
from marketplace.audit.log import record, refusals_recorded
from marketplace.db import command
from marketplace.errors import Conflict, NotFound
from marketplace.extensions import db
from marketplace.outbox import JobStatus, OutboxJob
from marketplace.queue import retry

#: What the page lists: jobs that gave up, and jobs failing now and waiting to be tried again.
TROUBLED = (JobStatus.DEAD, JobStatus.RETRYING)
PER_PAGE = 50


@dataclass(frozen=True)
class JobsPage:
    jobs: list[OutboxJob]
    page: int
    pages: int
    counts: dict[str, int]  # jobs per status, over the whole outbox


def troubled_jobs(actor: User, page: int = 1) -> JobsPage:
    """Failed jobs, newest first, one page of them; three statements whatever the outbox size."""
    require_platform_admin(actor)
    counts = dict(
        db.session.execute(
            select(OutboxJob.status, func.count(OutboxJob.id)).group_by(OutboxJob.status)
        ).all()
    )
    total = sum(counts.get(status, 0) for status in TROUBLED)
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(page, 1), pages)
    jobs = db.session.scalars(
        select(OutboxJob)
        .where(OutboxJob.status.in_(TROUBLED))
        .order_by(OutboxJob.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return JobsPage(list(jobs), page, pages, {s.value: counts.get(s, 0) for s in JobStatus})


@refusals_recorded("job.retry", object_arg="job_id", object_type="outbox_job")
@command
def retry_job(actor: User, job_id: int) -> OutboxJob:
    """Try a job that gave up again from its first attempt. A job still retrying is left to
    its own schedule: handing it over again would race the copy rq holds."""
    require_platform_admin(actor)
    job = db.session.get(OutboxJob, job_id)
    if job is None:
        raise NotFound("No such job.")
    if job.status != JobStatus.DEAD:
        raise Conflict(
            f"Job {job.id} is {job.status}: only a job that gave up can be retried "
            "(one still retrying is tried again by itself)."
        )
    record("job.retry", obj=job, actor=actor, details={"function": job.function})
    return retry(job.id)
