"""The solver facts the insight page reads are the live computation: after each command that
changes them (through the services, their refresh job run inline after the commit), the
stored facts and money equal ``live_facts`` and ``live_money``; a burst of changes waits for
one refresh per organization."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import func, select

from ledger import utcnow
from marketplace.accounts.models import Organization
from marketplace.db import transaction
from marketplace.extensions import db
from marketplace.insight import services, solvers
from marketplace.insight.models import SolverFacts, SolverMoney
from marketplace.judging import decisions
from marketplace.judging.models import Award
from marketplace.outbox import OutboxJob
from marketplace.proposals import team
from marketplace.queue import enqueue_once
from marketplace.value import reports
from tests.challenges.conftest import user
from tests.factories import UserFactory
from tests.proposals.conftest import accept, need, people, submit, submitted  # noqa: F401
from tests.value.test_reports import period

COLUMNS = ("user_id", "name", "sort_name", "rank", "fewer_awards", "fewer_proposals",
           "proposals", "needs", "led", "awards")  # fmt: skip


def acme_id() -> int:
    return db.session.scalar(select(Organization.id).where(Organization.slug == "acme"))


def stored(organization_id: int) -> tuple[list[tuple], list[tuple]]:
    facts = db.session.execute(
        select(*(getattr(SolverFacts, name) for name in COLUMNS))
        .where(SolverFacts.organization_id == organization_id)
        .order_by(SolverFacts.user_id)
    ).all()
    money = db.session.execute(
        select(SolverMoney.user_id, SolverMoney.currency, SolverMoney.earned, SolverMoney.value)
        .where(SolverMoney.organization_id == organization_id)
        .order_by(SolverMoney.user_id, SolverMoney.currency)
    ).all()
    return [tuple(row) for row in facts], [tuple(row) for row in money]


def live(organization_id: int) -> tuple[list[tuple], list[tuple]]:
    facts = solvers.live_facts(organization_id)
    rows = db.session.execute(
        select(*(facts.c[name] for name in COLUMNS)).order_by(facts.c.user_id)
    ).all()
    money = solvers.live_money(organization_id).subquery()
    sums = db.session.execute(select(money).order_by(money.c.user_id, money.c.currency)).all()
    return [tuple(row) for row in rows], [tuple(row) for row in sums]


def same_as_live(app) -> tuple[list[tuple], list[tuple]]:
    with app.app_context():
        organization_id = acme_id()
        now = live(organization_id)
        assert stored(organization_id) == now
        return now


def test_the_stored_facts_follow_every_change(app, people, submitted):  # noqa: F811
    with app.app_context():
        first = services.organization_insight(user(people.manager), "acme")
        assert first.figures_as_of is not None  # the first view computed them
        assert {row.user_id for row in first.solvers} == {
            user(submitted.lead).id,
            user(submitted.partner).id,
        }
    facts, money = same_as_live(app)
    assert len(facts) == 2 and money == []

    # Another proposal submitted, then a co-creator joins it after submission.
    other = submit(app, people.other_solver, submitted.challenge_id)
    with app.app_context():
        UserFactory(email="helper@example.com", name="Hal Helper")
    accept(app, "helper@example.com", submitted.challenge_id)
    facts, _ = same_as_live(app)
    assert len(facts) == 3
    with app.app_context():
        _, token = team.invite_member(user(people.other_solver), other, "helper@example.com")
        team.join_team(user("helper@example.com"), token)
    facts, _ = same_as_live(app)
    led = {row[0]: row[COLUMNS.index("led")] for row in facts}
    with app.app_context():
        assert led[user(people.other_solver).id] == 1 and len(facts) == 4

    # An award (earnings per currency), then a value report posted and reversed.
    with app.app_context():
        award = decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "Well done")
        award_id = award.id
        award.awarded_at = utcnow() - timedelta(days=400)
        db.session.commit()
    facts, money = same_as_live(app)
    assert {row[COLUMNS.index("awards")] for row in facts} == {0, 1}
    assert len(money) == 2 and all(row[3] is None for row in money)
    with app.app_context():
        manager = user(people.manager)
        awarded = SimpleNamespace(awarded_on=db.session.get(Award, award_id).awarded_at.date())
        report = reports.report_value(manager, award_id, period(awarded, 0, 89))
        report_id = report.id
    facts, money = same_as_live(app)
    assert {row[COLUMNS.index("rank")] for row in facts} >= {0}  # co-creators now
    assert all(row[3] is not None for row in money)
    with app.app_context():
        reports.reverse_report(user(people.manager), report_id, "Returns were not deducted")
    facts, money = same_as_live(app)
    assert 0 not in {row[COLUMNS.index("rank")] for row in facts}
    assert all(row[3] is None for row in money)

    with app.app_context():
        shown = services.organization_insight(user(people.manager), "acme")
        assert {row.user_id: row.award_count for row in shown.solvers} == {
            row[0]: row[COLUMNS.index("awards")] for row in facts
        }
        assert shown.figures_as_of >= first.figures_as_of


def test_a_burst_of_changes_waits_for_one_refresh(app, people):  # noqa: F811
    with app.app_context():
        organization_id = acme_id()
        app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing runs inline: rows wait
        try:
            with transaction():
                first = enqueue_once("refresh_solver_facts", organization_id)
                again = enqueue_once("refresh_solver_facts", organization_id)
                other = enqueue_once("refresh_solver_facts", organization_id + 1)
        finally:
            app.config["REDIS_URL"] = None
            app.extensions.pop("redis", None)
        assert first.id == again.id != other.id
        waiting = db.session.scalar(
            select(func.count(OutboxJob.id)).where(OutboxJob.function == "refresh_solver_facts")
        )
        assert waiting == 2
