"""A payout world with real commits, for tests that run real workers: a database of its own
(SQLite file or PostgreSQL schema), solvers owed money with Connect accounts at the fake
Stripe, and an approved batch whose job waits in Redis (or in the outbox). Worker processes
are ``flask jobs worker --burst`` with the same settings in their environment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select

import ledger
from ledger import utcnow
from marketplace import create_app
from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.payouts import batches
from marketplace.payouts.models import PayoutAccount, PayoutLine
from tests.conftest import test_config
from tests.factories import UserFactory
from tests.payments.stripe_server import FakeStripe
from tests.second_factors import fresh_code

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "sk_test_payout_world"
WEBHOOK_SECRET = "whsec_payout_world"
AMOUNT = 12_345


@dataclass
class World:
    app: Flask
    env: dict[str, str]  # a worker's environment
    batch_id: int
    line_ids: list[int]  # by id, one per solver
    preparer_id: int

    def key(self, index: int, version: int = 1) -> str:
        stem = f"payout-line-{self.line_ids[index]}"
        return stem if version == 1 else f"{stem}-v{version}"


def _owe(solver_ids: list[int], fund_key: str = "test:fund") -> None:
    """Fund an escrow and award ``AMOUNT`` to each solver straight on the ledger. The escrow
    is funded under a code of its own, not FUND_ESCROW: no Stripe payment stands behind it,
    and the reconciliation counts it as other cash rather than a funding Stripe lacks."""
    cash, escrow = chart.cash(db.session, "USD"), chart.escrow(db.session, 1, "USD")
    ledger.post_transfer(
        db.session, debit=cash.id, credit=escrow.id, amount=AMOUNT * len(solver_ids),
        code="TEST_FUNDING", key=fund_key, recorded_by="test",
    )  # fmt: skip
    for solver_id in solver_ids:
        ledger.post_transfer(
            db.session, debit=escrow.id, credit=chart.payable(db.session, solver_id, "USD").id,
            amount=AMOUNT, code="AWARD", key=f"test:award:{solver_id}", recorded_by="test",
        )  # fmt: skip


def _connect_accounts(stripe_server: FakeStripe, solver_ids: list[int]) -> None:
    """Enabled Connect accounts at the fake, and their payout accounts here (onboarding is
    not what these tests are about)."""
    for solver_id in solver_ids:
        account_id = f"acct_{secrets.token_hex(8)}"
        stripe_server.accounts[account_id] = {
            "id": account_id, "object": "account", "type": "express", "payouts_enabled": True,
            "details_submitted": True, "metadata": {"user_id": str(solver_id)},
        }  # fmt: skip
        db.session.add(
            PayoutAccount(user_id=solver_id, provider="stripe", external_id=account_id,
                          payouts_enabled=True, details_submitted=True)
        )  # fmt: skip


@contextmanager
def payout_world(
    url: str, stripe_server: FakeStripe, solvers: int, **settings: object
) -> Iterator[World]:
    """Solvers owed ``AMOUNT`` each, and a batch paying them, approved: its job waits."""
    stripe = {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_server.url,
        "STRIPE_TIMEOUT": 1.0,
        "QUEUE_PREFIX": f"test-{uuid.uuid4().hex[:8]}:",
    }
    app = create_app(test_config(url, **stripe, **settings))
    with app.app_context():
        people = [UserFactory(email=f"solver{n}@example.com") for n in range(solvers)]
        preparer = UserFactory(
            email="fiona@platform.example", is_platform_finance=True, second_factor=True
        )
        UserFactory(  # approves
            email="felix@platform.example", is_platform_finance=True, second_factor=True
        )
        solver_ids = [person.id for person in people]
        _owe(solver_ids)
        _connect_accounts(stripe_server, solver_ids)
        db.session.commit()
        batch_id = batches.prepare_batch(preparer, "USD", 1).id
        line_ids = list(
            db.session.scalars(
                select(PayoutLine.id).where(PayoutLine.batch_id == batch_id).order_by(PayoutLine.id)
            )
        )
        world = World(app, {}, batch_id, line_ids, preparer.id)
        world.env = {
            **os.environ,
            "FLASK_APP": "wsgi",
            "DATABASE_URL": url,
            "REDIS_URL": str(app.config.get("REDIS_URL") or ""),
            "SECRET_KEY": "worker-test",
            **{name: str(value) for name, value in stripe.items()},
        }
        try:
            yield world
        finally:
            db.session.remove()
            db.engine.dispose()


def approve(world: World) -> None:
    """The second finance user approves: the sending job is enqueued, not run."""
    with world.app.app_context():
        approver = db.session.scalar(select(User).where(User.email == "felix@platform.example"))
        batches.approve_batch(approver, world.batch_id, fresh_code(approver))
        db.engine.dispose()


def worker(world: World) -> subprocess.Popen:
    """``flask jobs worker --burst``: the app built once, jobs run in the worker's process
    (so a SIGKILL kills the job with it)."""
    flask = Path(sys.executable).with_name("flask")
    return subprocess.Popen(
        [str(flask), "jobs", "worker", "--burst"],
        cwd=ROOT,
        env=world.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_workers(world: World, count: int = 1, seconds: float = 120) -> list[str]:
    """Run ``count`` burst workers at once until the queues are empty; their output."""
    started = [worker(world) for _ in range(count)]
    outputs = []
    for process in started:
        output, _ = process.communicate(timeout=seconds)
        assert process.returncode == 0, output
        outputs.append(output)
    return outputs


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def make_due(world: World, line_ids: list[int] | None = None, key_age: timedelta | None = None):
    """Move time forward: the open lines' next tries are due now (and their keys this old)."""
    with world.app.app_context():
        lines = db.session.scalars(
            select(PayoutLine).where(
                PayoutLine.batch_id == world.batch_id,
                PayoutLine.status.in_(("reserved", "sending")),
                PayoutLine.id.in_(line_ids or world.line_ids),
            )
        )
        for line in lines:
            line.next_try_at = utcnow() - timedelta(seconds=1)
            if key_age is not None:
                line.sent_at = utcnow() - key_age
        db.session.commit()
        db.engine.dispose()
