"""A payout batch sent by a real ``rq worker`` that dies half-way, between two Stripe calls,
and is run again: every transfer is made exactly once, counted at the local Stripe server.

The worker is a separate process (``rq worker --burst``) against Redis and a database of its
own (SQLite file or a fresh PostgreSQL schema), talking to the fake Stripe server through the
real SDK. The fake server creates the third transfer but keeps its answer back; the test kills
the worker then, as a crash would, so the database never hears of that transfer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from rq import Queue
from sqlalchemy import select

import ledger
from marketplace import create_app
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.jobs import QUEUE_NAME, enqueue, send_payout_batch
from marketplace.payouts import batches
from marketplace.payouts.accounts import account_updated, start_onboarding
from marketplace.payouts.models import PayoutBatch, PayoutLine
from tests.conftest import migrated_database, need_service, test_config
from tests.factories import UserFactory

SOLVERS = 5
SECRET_KEY = "sk_test_crash"


def owe(solvers: list, amount: int) -> None:
    """Fund an escrow and award ``amount`` to each solver straight on the ledger."""
    cash, escrow = chart.cash(db.session, "USD"), chart.escrow(db.session, 1, "USD")
    ledger.post_transfer(
        db.session, debit=cash.id, credit=escrow.id, amount=amount * len(solvers),
        code="FUND_ESCROW", key="test:fund", recorded_by="test",
    )  # fmt: skip
    for solver in solvers:
        ledger.post_transfer(
            db.session, debit=escrow.id, credit=chart.payable(db.session, solver.id, "USD").id,
            amount=amount, code="AWARD", key=f"test:award:{solver.id}", recorded_by="test",
        )  # fmt: skip
    db.session.commit()


def worker(env: dict[str, str], redis_url: str) -> subprocess.Popen:
    """``rq worker --burst``; the simple worker class runs the job in the worker's own process
    (the default forks a work horse into a session of its own, which a kill would miss)."""
    rq = Path(sys.executable).with_name("rq")
    return subprocess.Popen(
        [str(rq), "worker", "--burst", "--url", redis_url, "--worker-class",
         "rq.worker.SimpleWorker", QUEUE_NAME],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_rerun_after_a_crash_pays_each_line_exactly_once(database, tmp_path, stripe_server):
    redis_url = need_service("TEST_REDIS_URL", "the rq worker crash test")
    Queue(QUEUE_NAME, connection=redis.Redis.from_url(redis_url)).empty()
    with migrated_database(database.kind, tmp_path) as fresh:
        settings = {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_API_BASE": stripe_server.url}
        app = create_app(test_config(fresh.url, REDIS_URL=redis_url, **settings))
        with app.app_context():
            solvers = [UserFactory(email=f"solver{n}@example.com") for n in range(SOLVERS)]
            owe(solvers, 12_345)
            for solver in solvers:
                account, _ = start_onboarding(solver)
                account_updated(stripe_server.enable_payouts(account.external_id))
            preparer = UserFactory(email="fiona@platform.example", is_platform_finance=True)
            approver = UserFactory(email="felix@platform.example", is_platform_finance=True)
            db.session.commit()
            batch_id = batches.prepare_batch(preparer, "USD", 1).id
            batches.approve_batch(approver, batch_id)  # enqueued in Redis, not run
            assert db.session.get(PayoutBatch, batch_id).status == "approved"
            db.engine.dispose()

        env = {**os.environ, "DATABASE_URL": fresh.url, "REDIS_URL": redis_url,
               "SECRET_KEY": "worker-test", **settings}  # fmt: skip
        stripe_server.hold_after("/v1/transfers", 2)
        crashing = worker(env, redis_url)
        wait_for(lambda: len(stripe_server.transfers) == 3)
        crashing.send_signal(signal.SIGKILL)
        crashing.wait(timeout=30)
        stripe_server.release()
        with app.app_context():
            statuses = db.session.scalars(select(PayoutLine.status).order_by(PayoutLine.id)).all()
            assert statuses == ["paid", "paid", "reserved", "reserved", "reserved"]
            third = db.session.scalars(select(PayoutLine.id).order_by(PayoutLine.id)).all()[2]
            enqueue(send_payout_batch, batch_id)
            db.engine.dispose()
        done = worker(env, redis_url)
        output, _ = done.communicate(timeout=120)
        assert done.returncode == 0, output

        # Five lines, five transfers at Stripe: the third was sent again with its key and
        # Stripe answered with the transfer it had made before the crash.
        assert len(stripe_server.transfers) == SOLVERS
        assert len(stripe_server.posts("/v1/transfers")) == SOLVERS
        replays = [r for r in stripe_server.requests if r.path == "/v1/transfers" and r.replayed]
        assert [r.idempotency_key for r in replays] == [f"payout-line-{third}"]
        with app.app_context():
            lines = db.session.scalars(select(PayoutLine).order_by(PayoutLine.id)).all()
            assert {line.status for line in lines} == {"paid"}
            before_crash = {
                t["metadata"]["payout_line_id"]: t["id"] for t in stripe_server.transfers.values()
            }
            assert lines[2].provider_transfer_id == before_crash[str(third)]
            assert db.session.get(PayoutBatch, batch_id).status == "completed"
            assert ledger.verify(db.session) == []
            db.engine.dispose()
