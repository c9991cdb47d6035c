"""The periodic work, run by rq's cron scheduler (``flask jobs scheduler``).

| job | when | why |
|---|---|---|
| relay_outbox | every 30 s | hand rq the jobs Redis never got (it was away) or lost |
| advance_deadlines | every 5 min | open needs past their deadline move to judging |
| resume_payouts | every 5 min | approved batches with unanswered lines are sent again |
| verify_book | 03:15 UTC daily | recompute the book; alert the admins when it is wrong |
| reconcile_with_provider | 03:45 UTC daily | Stripe's payout transfers of two days vs the book |
| fill_daily_totals | every 5 min (cron) | the ledger's days summed for the finance dashboard |
| purge_idempotency_keys | hourly at :20 (cron) | the API's idempotency keys are kept 24 hours |
| purge_sessions | 04:10 UTC daily | sign-in sessions' rows, a month after they can last no longer |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marketplace.jobs import (
    advance_deadlines,
    fill_daily_totals,
    purge_idempotency_keys,
    purge_sessions,
    reconcile_with_provider,
    relay_outbox,
    resume_payouts,
    verify_book,
)
from marketplace.outbox import JobQueue


@dataclass(frozen=True)
class Scheduled:
    function: Callable[..., Any]
    queue: JobQueue
    interval: int | None = None  # seconds
    cron: str | None = None  # a crontab line, in UTC
    timeout: int = 600


SCHEDULE = (
    Scheduled(relay_outbox, JobQueue.DEFAULT, interval=30, timeout=120),
    Scheduled(advance_deadlines, JobQueue.DEFAULT, interval=300),
    Scheduled(resume_payouts, JobQueue.PAYOUTS, interval=300),
    Scheduled(verify_book, JobQueue.DEFAULT, cron="15 3 * * *", timeout=3600),
    Scheduled(reconcile_with_provider, JobQueue.DEFAULT, cron="45 3 * * *", timeout=3600),
    Scheduled(fill_daily_totals, JobQueue.DEFAULT, cron="*/5 * * * *", timeout=3600),
    Scheduled(purge_idempotency_keys, JobQueue.DEFAULT, cron="20 * * * *"),
    Scheduled(purge_sessions, JobQueue.DEFAULT, cron="10 4 * * *"),
)
