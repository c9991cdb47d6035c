"""Ten parallel funding starts for one need, on PostgreSQL: one payment, one Checkout Session.

Starting a funding locks the need's row while the payment is opened, so the starts queue up:
the first opens the payment (and asks Stripe outside the lock), the others find it and get it
back, or a 409 while its checkout is still being made. These starts commit, so they run
against a database of their own; each thread has its own app context and connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlalchemy import func, select

from marketplace import create_app
from marketplace.accounts.models import OrgRole, User
from marketplace.challenges import services as needs
from marketplace.challenges.models import Challenge
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.payments import services
from marketplace.payments.models import Payment
from tests.conftest import migrated_database, test_config
from tests.factories import MembershipFactory, make_need, make_terms
from tests.payments.conftest import SECRET_KEY, WEBHOOK_SECRET
from tests.payments.stripe_server import FakeStripe

pytestmark = pytest.mark.postgres_only
STARTS = 10
SESSIONS = "/v1/checkout/sessions"


@pytest.fixture
def need(postgres, tmp_path, stripe_server: FakeStripe) -> Iterator[SimpleNamespace]:
    """A draft need of Acme's, committed, with the app configured for the fake Stripe."""
    with migrated_database("postgresql", tmp_path) as database:
        app = create_app(
            test_config(
                database.url,
                STRIPE_SECRET_KEY=SECRET_KEY,
                STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                STRIPE_API_BASE=stripe_server.url,
            )
        )
        with app.app_context():
            manager = MembershipFactory(role=OrgRole.MANAGER, user__second_factor=True).user
            challenge = needs.create_challenge(
                manager, manager.memberships[0].organization, make_need(), make_terms()
            )
            found = SimpleNamespace(app=app, manager=manager.id, challenge=challenge.id)
        try:
            yield found
        finally:
            with app.app_context():
                db.engine.dispose()


def start_at_once(app: Flask, found: SimpleNamespace, answered=None) -> list[tuple]:
    """``STARTS`` threads start a funding together; ("payment", id) or ("conflict", message)
    each. ``answered`` is released once per thread that has its answer."""
    barrier = threading.Barrier(STARTS)
    results: list[tuple] = []

    def start() -> None:
        with app.test_request_context():
            manager = db.session.get(User, found.manager)
            challenge = db.session.get(Challenge, found.challenge)
            barrier.wait()
            try:
                results.append(("payment", services.start_funding(manager, challenge).id))
            except Conflict as error:
                results.append(("conflict", error.message))
        if answered is not None:
            answered.release()

    threads = [threading.Thread(target=start) for _ in range(STARTS)]
    for thread in threads:
        thread.start()
    return threads, results


def join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)


def payments(app: Flask) -> list[Payment]:
    with app.app_context():
        rows = list(db.session.scalars(select(Payment).order_by(Payment.id)))
        db.session.expunge_all()
        return rows


def test_parallel_starts_while_stripe_answers_open_one_payment(need, stripe_server):
    # Stripe makes the first session but keeps its answer back until every other start has
    # had its own answer: they all find the payment opened and its checkout not made yet.
    stripe_server.hold_after(SESSIONS, 0)
    answered = threading.Semaphore(0)
    threads, results = start_at_once(need.app, need, answered)
    for _ in range(STARTS - 1):
        assert answered.acquire(timeout=60), "a start never answered"
    stripe_server.release()
    join(threads)

    [payment] = payments(need.app)
    kinds = sorted(kind for kind, _ in results)
    assert kinds == ["conflict"] * (STARTS - 1) + ["payment"]
    assert ("payment", payment.id) in results
    assert all("being started" in detail for kind, detail in results if kind == "conflict")
    assert len(stripe_server.posts(SESSIONS)) == 1 and len(stripe_server.sessions) == 1
    assert payment.external_id in stripe_server.sessions and payment.status == "pending"


def test_parallel_starts_after_the_checkout_get_the_same_payment_back(need, stripe_server):
    threads, results = start_at_once(need.app, need)
    join(threads)
    again, more = start_at_once(need.app, need)
    join(again)

    [payment] = payments(need.app)
    after = [result for result in results + more if result[0] == "payment"]
    assert len(after) >= STARTS + 1, "once its checkout exists, every start gets it back"
    assert set(after) == {("payment", payment.id)}
    assert len(stripe_server.posts(SESSIONS)) == 1 and len(stripe_server.sessions) == 1
    with need.app.app_context():
        pending = db.session.scalar(select(func.count(Payment.id)))
        assert pending == 1
