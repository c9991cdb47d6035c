"""Concurrent awards on PostgreSQL: managers clicking at once write one journal.

These awards commit, so they run against a database of their own (a fresh migrated schema),
not the rolled-back ``app`` fixture; each thread has its own app context and connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from flask import Flask
from sqlalchemy import func, select

import ledger
from ledger import Journal
from marketplace import create_app
from marketplace.accounts.models import OrgRole, User
from marketplace.challenges import services as needs
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.judging import decisions
from marketplace.judging.models import Award, Decision
from marketplace.payments.services import start_funding
from marketplace.proposals import services as proposals
from tests.conftest import migrated_database, test_config
from tests.factories import MembershipFactory, UserFactory, make_need, make_terms
from tests.proposals.conftest import PROPOSAL

pytestmark = pytest.mark.postgres_only
THREADS = 4


@pytest.fixture
def book(postgres, tmp_path) -> Iterator[SimpleNamespace]:
    """A funded, open need of Acme with two submitted solo proposals, all committed."""
    with migrated_database("postgresql", tmp_path) as database:
        app = create_app(test_config(database.url))
        with app.app_context(), app.test_request_context():
            manager = MembershipFactory(
                role=OrgRole.MANAGER, user__email="m@acme.example", user__second_factor=True
            ).user
            challenge = needs.create_challenge(
                manager, manager.memberships[0].organization, make_need(), make_terms()
            )
            start_funding(manager, challenge)
            needs.open_challenge(manager, challenge)
            ids = []
            for email in ("one@example.com", "two@example.com"):
                solver = UserFactory(email=email)
                needs.accept_terms(solver, challenge.id)
                proposal = proposals.create_proposal(solver, challenge.id, PROPOSAL)
                proposals.submit_proposal(solver, proposal.id)
                ids.append(proposal.id)
            names = SimpleNamespace(manager=manager.id, challenge=challenge.id, proposals=ids)
        try:
            yield SimpleNamespace(app=app, **vars(names))
        finally:
            with app.app_context():
                db.engine.dispose()


def race(app: Flask, calls: list[Callable[[User], object]], manager_id: int) -> list[object]:
    """Run each call in its own thread and app context, all released at once."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        with app.app_context():
            manager = db.session.get(User, manager_id)
            barrier.wait()
            try:
                outcome = calls[index](manager)
                results[index] = ("award", outcome.id)
            except Conflict as error:
                results[index] = ("conflict", error.message)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results


def count(model_column) -> int:
    return db.session.scalar(select(func.count(model_column)))


def test_concurrent_double_award_writes_one_journal(book):
    proposal_id = book.proposals[0]
    award = lambda manager: decisions.award_prize(manager, proposal_id, 1, "First prize")  # noqa: E731
    results = race(book.app, [award] * THREADS, book.manager)

    assert {kind for kind, _ in results} == {"award"}
    assert len({award_id for _, award_id in results}) == 1, "every click gets the same award"
    with book.app.app_context():
        assert count(Decision.id) == count(Award.id) == 1
        assert (
            db.session.scalar(
                select(func.count(Journal.id)).where(Journal.key == f"award:proposal:{proposal_id}")
            )
            == 1
        )
        winner = db.session.scalar(select(User).where(User.email == "one@example.com"))
        owed = chart.payable(db.session, winner.id, "USD")
        assert owed.credits_posted - owed.debits_posted == 1_000_000
        assert ledger.verify(db.session) == []


def test_one_prize_awarded_concurrently_to_two_proposals_goes_to_one(book):
    calls = [
        lambda manager, pid=pid: decisions.award_prize(manager, pid, 1, "First prize")
        for pid in book.proposals
    ]
    results = race(book.app, calls, book.manager)

    kinds = sorted(kind for kind, _ in results)
    assert kinds == ["award", "conflict"]
    assert any("Prize 1 has been awarded already" in str(detail) for _, detail in results)
    with book.app.app_context():
        assert count(Award.id) == 1
        assert count(Decision.id) == 1
        assert ledger.verify(db.session) == []
