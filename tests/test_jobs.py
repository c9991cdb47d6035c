"""Jobs run inline on the embedded defaults, and in a real `rq worker` when Redis is there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis
from rq import Queue

import ledger
from marketplace import create_app
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.jobs import QUEUE_NAME, enqueue, verify_book
from tests.conftest import migrated_database, need_service, test_config


def fund_escrow(challenge_id: int, amount: int, currency: str) -> None:
    """Two accounts and one committed transfer: a small book for verify to check."""
    cash = chart.cash(db.session, currency)
    escrow = chart.escrow(db.session, challenge_id, currency)
    ledger.post_transfer(
        db.session, debit=cash.id, credit=escrow.id, amount=amount, code="FUND_ESCROW",
        key="fund", recorded_by="test",
    )  # fmt: skip
    db.session.commit()


def test_without_redis_a_job_runs_inline(app) -> None:
    with app.app_context():
        fund_escrow(1, 500, "USD")
        assert enqueue(verify_book) == {"accounts": 2, "discrepancies": []}


def test_a_real_rq_worker_runs_the_job_against_the_database(database, tmp_path) -> None:
    redis_url = need_service("TEST_REDIS_URL", "the rq worker test")
    connection = redis.Redis.from_url(redis_url)
    Queue(QUEUE_NAME, connection=connection).empty()
    with migrated_database(database.kind, tmp_path) as fresh:
        app = create_app(test_config(fresh.url, REDIS_URL=redis_url))
        with app.app_context():
            fund_escrow(7, 1234, "EUR")
            job = enqueue(verify_book)
            db.engine.dispose()
        assert job.get_status() == "queued"
        worker = Path(sys.executable).with_name("rq")
        env = {
            **os.environ,
            "DATABASE_URL": fresh.url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "worker-test",
        }
        done = subprocess.run(
            [str(worker), "worker", "--burst", "--url", redis_url, QUEUE_NAME],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        job.refresh()
        assert job.get_status() == "finished", done.stderr
        assert job.return_value() == {"accounts": 2, "discrepancies": []}
