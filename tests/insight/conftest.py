"""The proposals' fixtures (an open need with solvers, a submitted 60/40 proposal) and a need
with a full funnel and solvers of every type."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

import ledger
from marketplace.accounts.models import Organization
from marketplace.db import transaction
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.judging import decisions
from marketplace.judging.models import Decision
from marketplace.proposals import services as proposals
from marketplace.queue import enqueue_once
from marketplace.value.models import ReportStatus, ValueReport
from tests.challenges.conftest import user
from tests.factories import UserFactory
from tests.proposals.conftest import (  # noqa: F401  (fixtures)
    accept,
    draft_proposal,
    need,
    people,
    submit,
    submitted,
)


def new_solvers(app, *emails: str) -> None:
    with app.app_context():
        for email in emails:
            UserFactory(email=email, name=email.split("@")[0].capitalize())


def award(app, staff, proposal_id: int, rank: int = 1) -> int:
    with app.app_context():
        return decisions.award_prize(user(staff.manager), proposal_id, rank, "Strong pilot.").id


def decline(app, staff, proposal_id: int) -> None:
    with app.app_context():
        decisions.decline_proposal(user(staff.manager), proposal_id, "Not for us, thanks.")


def report_value(app, staff, award_id: int, shares: dict[str, int], *, reversed_=False) -> int:
    """A value report of Acme for ``award_id`` giving ``shares`` {email: minor units}, posted
    to the ledger (receivable from Acme to each co-creator's payable)."""
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        by_id = {str(user(email).id): amount for email, amount in shares.items()}
        batch = [
            ledger.NewTransfer(
                chart.receivable(db.session, acme.id, "USD").id,
                chart.payable(db.session, int(uid), "USD").id,
                amount,
                "VALUE_SHARE",
                f"award:{award_id}",
            )  # fmt: skip
            for uid, amount in by_id.items()
        ]
        journal = ledger.post_journal(
            db.session, batch, key=f"test-value:{award_id}:{sorted(by_id)}", recorded_by="test"
        )
        total = sum(by_id.values())
        report = ValueReport(
            award_id=award_id, organization_id=acme.id, period_start=date(2025, 1, 1),
            period_end=date(2025, 3, 31), value_amount=total * 20, currency="USD",
            share_bp=500, share_amount=total, shares=by_id, weights=dict.fromkeys(by_id, 1),
            evidence="Q1 sales", journal_id=journal.journal_id,
            reported_by_id=user(staff.finance).id,
            status=ReportStatus.REVERSED if reversed_ else ReportStatus.POSTED,
        )  # fmt: skip
        db.session.add(report)
        db.session.commit()
        with transaction():  # as reports.report_value does; run inline after the commit
            enqueue_once("refresh_solver_facts", acme.id)
        return report.id


def set_response_seconds(app, proposal_id: int, seconds: int) -> None:
    with app.app_context():
        db.session.execute(
            update(Decision)
            .where(Decision.proposal_id == proposal_id)
            .values(response_seconds=seconds)
        )
        db.session.commit()


@pytest.fixture
def funnel(app, people, need) -> SimpleNamespace:  # noqa: F811
    """``need`` with 10 outside views and every stage of the funnel:

    - accepted the terms (7): solver, partner, other, and u3, u4, u5, u6 @example.com;
    - written (6): solver's team with the partner, other, u3, u6 (all submitted), u4 (a draft,
      which the funnel never counts), u5 (submitted, then withdrawn);
    - decided (3): solver's awarded (100 s), other's declined (300 s), u3's declined (900 s);
      u6's waits for an answer.
    """
    extra = ["u3@example.com", "u4@example.com", "u5@example.com", "u6@example.com"]
    new_solvers(app, *extra)
    for email in extra:
        accept(app, email, need)
    team = submit(app, people.solver, need, ["partner@example.com"], (6000, 4000))
    alone = submit(app, people.other_solver, need)
    u3 = submit(app, "u3@example.com", need)
    u6 = submit(app, "u6@example.com", need)
    draft_proposal(app, "u4@example.com", need)
    withdrawn = submit(app, "u5@example.com", need)
    with app.app_context():
        proposals.withdraw_proposal(user("u5@example.com"), withdrawn)
    award(app, people, team)
    decline(app, people, alone)
    decline(app, people, u3)
    for proposal_id, seconds in ((team, 100), (alone, 300), (u3, 900)):
        set_response_seconds(app, proposal_id, seconds)
    with app.app_context():
        from marketplace.insight.visits import record_view

        for visitor in range(10):
            record_view(need, f"anon:{visitor}")
    return SimpleNamespace(challenge_id=need, team=team, alone=alone, u3=u3, u6=u6)
