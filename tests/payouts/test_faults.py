"""A payout batch sent by real workers (``flask jobs worker --burst``, Redis, a database of its
own) while the fake Stripe misbehaves, line by line: a 500 it replays for the key (with and
without having made the transfer), a timeout, a 429 with Retry-After (sent again by the same
try once it has passed), an answer dropped after the transfer was made, a refusal; then the
worker is killed with SIGKILL while Stripe holds an answer. With no human action, only the
scheduled resume and time moving forward (next-try times and key ages edited in the database,
not slept through), every line ends paid exactly once or owed again, the book verifies, and
the fake holds one transfer per paid line.

Two send jobs for one batch running at once never send a line twice: each line is claimed
first (also shown with two threads and a held answer, without Redis). The same-key retry of a
replayed 500 is shown in test_retries.py; here the never-made line's key has expired.
"""

from __future__ import annotations

import signal
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

import ledger
from marketplace import jobs
from marketplace.accounts.models import User
from marketplace.db import transaction
from marketplace.extensions import db
from marketplace.finance.reconciliation import reconcile
from marketplace.outbox import JobQueue
from marketplace.payouts import sending
from marketplace.payouts.models import PayoutBatch, PayoutLine
from marketplace.queue import enqueue
from tests.conftest import migrated_database, need_service
from tests.payouts.worlds import (
    approve,
    make_due,
    payout_world,
    run_workers,
    wait_for,
    worker,
)

SOLVERS = 12
EXPIRED = sending.KEY_LIFETIME + timedelta(minutes=1)
NEVER_MADE, MADE_THEN_500, TIMEOUT, RATE_LIMITED, DROPPED, REFUSED, PLAIN, HELD = range(8)


def statuses(world) -> list[str]:
    with world.app.app_context():
        found = list(
            db.session.scalars(
                select(PayoutLine.status)
                .where(PayoutLine.batch_id == world.batch_id)
                .order_by(PayoutLine.id)
            )
        )
        db.engine.dispose()
        return found


def stage_faults(world, stripe_server) -> None:
    stripe_server.payout_fault("saved_500", keys=[world.key(NEVER_MADE)])
    stripe_server.payout_fault("saved_500", keys=[world.key(MADE_THEN_500)], create=True)
    stripe_server.payout_fault("timeout", keys=[world.key(TIMEOUT)], times=2, delay=4)
    stripe_server.payout_fault("rate_limit", keys=[world.key(RATE_LIMITED)], retry_after=1)
    stripe_server.payout_fault("drop", keys=[world.key(DROPPED)], times=2)
    stripe_server.payout_fault("hold", keys=[world.key(HELD)])
    with world.app.app_context():
        refused = db.session.get(PayoutLine, world.line_ids[REFUSED])
        stripe_server.accounts[refused.payout_account.external_id]["payouts_enabled"] = False
        db.engine.dispose()


def resume(world, scheduled_job=sending.resume_stuck_batches) -> int:
    with world.app.app_context():
        resumed = scheduled_job()
        db.engine.dispose()
        return resumed


def test_stripe_faults_and_a_killed_worker_end_with_every_line_paid_once_or_owed(
    database, tmp_path, stripe_server
):
    redis_url = need_service("TEST_REDIS_URL", "the payout fault test with real workers")
    with (
        migrated_database(database.kind, tmp_path) as fresh,
        payout_world(fresh.url, stripe_server, SOLVERS, REDIS_URL=redis_url) as world,
    ):
        stage_faults(world, stripe_server)
        approve(world)
        crashing = worker(world)
        wait_for(lambda: len(stripe_server.transfers_of(world.line_ids[HELD])) == 1)
        crashing.send_signal(signal.SIGKILL)  # Stripe made the transfer; its answer is held
        crashing.communicate(timeout=30)
        stripe_server.release()
        # The worker sends several lines at once (PostgreSQL), so which of the others it
        # reached before it died varies; the held line is sent and unanswered, none failed but
        # the refused one.
        found = statuses(world)
        assert found[HELD] == "sending"
        assert [n for n, status in enumerate(found) if status == "failed"] in ([], [REFUSED])

        # Time moves on: the retries are due, and a day has passed for the line Stripe never
        # made (its key expired: a new key version). The scheduled job resumes the batch once,
        # and a duplicate send job (as a relay could hand over) runs beside it.
        make_due(world)
        make_due(world, [world.line_ids[NEVER_MADE]], key_age=EXPIRED)
        assert resume(world, jobs.resume_payouts) == 1
        assert resume(world, jobs.resume_payouts) == 0  # its job waits already
        with world.app.app_context(), transaction():
            enqueue(sending.SEND_JOB, world.batch_id, queue=JobQueue.PAYOUTS)
        run_workers(world, count=2)
        assert resume(world) == 0

        with world.app.app_context():
            lines = db.session.scalars(
                select(PayoutLine).where(PayoutLine.batch_id == world.batch_id)
                .order_by(PayoutLine.id)
            ).all()  # fmt: skip
            assert [line.status for line in lines] == ["paid"] * 5 + ["failed"] + ["paid"] * 6
            assert db.session.get(PayoutBatch, world.batch_id).status == "completed"
            assert ledger.verify(db.session) == []
            paid = [line for line in lines if line.status == "paid"]
            for line in lines:
                made = stripe_server.transfers_of(line.id)
                assert [t["id"] for t in made] == (
                    [line.provider_transfer_id] if line.status == "paid" else []
                ), line.id
            assert len(stripe_server.transfers) == len(paid) == SOLVERS - 1
            assert lines[NEVER_MADE].key_version == 2
            made = stripe_server.transfers_of(lines[NEVER_MADE].id)[0]
            sent_v2 = stripe_server.posts("/v1/transfers")
            assert [r.idempotency_key for r in sent_v2 if r.data["metadata"]["payout_line_id"]
                    == str(lines[NEVER_MADE].id)] == [world.key(NEVER_MADE, 2)]  # fmt: skip
            assert made["transfer_group"] == world.key(NEVER_MADE)
            found = reconcile(db.session.get(User, world.preparer_id))
            assert [d for c in found.currencies for d in c.differences] == []
            assert found.provider.transfers == len(paid) and found.clean
            db.engine.dispose()


def test_two_jobs_sending_one_batch_never_send_a_line_twice(database, tmp_path, stripe_server):
    """The first job's first line waits at Stripe; meanwhile a second job sends the batch:
    it skips the claimed line and sends the rest; the first then finds them taken."""
    with (
        migrated_database(database.kind, tmp_path) as fresh,
        payout_world(fresh.url, stripe_server, 4) as world,
    ):
        with world.app.app_context():
            batch = db.session.get(PayoutBatch, world.batch_id)
            batch.status = "approved"  # approved; its job is run by the threads below
            db.session.commit()
        stripe_server.payout_fault("hold", keys=[world.key(0)])
        outcomes: dict[str, dict[str, int]] = {}

        def send(name: str) -> None:
            with world.app.app_context():
                outcomes[name] = sending.send_batch(world.batch_id)
                db.session.remove()

        first = threading.Thread(target=send, args=("first",))
        first.start()
        wait_for(lambda: len(stripe_server.transfers_of(world.line_ids[0])) == 1)  # held
        send("second")
        stripe_server.release()
        first.join(timeout=60)
        # Each line paid by one job only: the held line is leased, the others claimed once
        # (the first job may have sent some with its other threads before the second began).
        paid = outcomes["first"].get("paid", 0) + outcomes["second"].get("paid", 0)
        assert paid == 4 and outcomes["first"].get("paid", 0) >= 1
        assert sum(outcomes["first"].values()) + sum(outcomes["second"].values()) <= 8
        assert len(stripe_server.posts("/v1/transfers")) == len(stripe_server.transfers) == 4
        with world.app.app_context():
            assert db.session.get(PayoutBatch, world.batch_id).status == "completed"
            assert ledger.verify(db.session) == []


@pytest.fixture(autouse=True)
def _no_leftover_hold(stripe_server):
    yield
    stripe_server.release()  # never leave a held answer behind a failed test
