"""Value sharing in set-based statements: the same payables, notifications and emails as one
row at a time, nothing written when any part fails, and a statement count that does not grow
with the number of co-creators."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

import ledger
from ledger import (
    Account,
    AccountConflict,
    AccountType,
    IdempotencyConflict,
    Journal,
    Transfer,
    utcnow,
)
from marketplace import queue
from marketplace.accounts.models import User
from marketplace.challenges.models import Challenge
from marketplace.db import transaction
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.jobs import send_notification_email_ranges
from marketplace.notifications import bulk
from marketplace.notifications.models import Notification
from marketplace.outbox import JobStatus, OutboxJob
from marketplace.value import reports
from marketplace.value.models import Contribution, ContributionKind, ValueReport
from tests.challenges.conftest import user
from tests.factories import UserFactory
from tests.local_servers import SMTPServer
from tests.sql_writes import statements_during
from tests.value.conftest import award
from tests.value.test_reports import period

#: The email jobs (a report also enqueues the insight's ``refresh_solver_facts``).
EMAILS = OutboxJob.function != "refresh_solver_facts"

#: Later contributions beside the team's 6000 : 4000 split: a tie (3333 twice), a weight so
#: small that its part rounds down to nothing, and uneven others.
HELPERS = [2500, 3333, 3333, 1, 777]
VALUE = 100_000  # 5 % is 50.00 (5,000 cents) to split


def reference_split(total: int, weights: dict[int, int]) -> dict[int, int]:
    """Largest remainder written out the long way: floors, then one cent each to the largest
    remainders (ties: larger weight, then smaller user id)."""
    whole = sum(weights.values())
    parts = {uid: total * weight // whole for uid, weight in weights.items()}
    order = sorted(weights, key=lambda uid: (-(total * weights[uid] % whole), -weights[uid], uid))
    for uid in order[: total - sum(parts.values())]:
        parts[uid] += 1
    return parts


def add_co_creators(award_id: int, weights: list[int], prefix: str) -> list[int]:
    """One confirmed later contribution per weight, each by a new person; their user ids."""
    awarded_at = award(award_id).awarded_at
    people = [UserFactory(email=f"{prefix}{n}@example.com") for n in range(len(weights))]
    db.session.add_all(
        Contribution(
            award_id=award_id,
            user_id=person.id,
            kind=ContributionKind.LATER,
            weight=weight,
            description="Helped",
            recorded_by_id=person.id,
            recorded_at=awarded_at,
            confirmed_at=awarded_at,
        )
        for person, weight in zip(people, weights, strict=True)
    )
    db.session.commit()
    return [person.id for person in people]


@pytest.fixture
def smtp(app) -> Iterator[SMTPServer]:
    server = SMTPServer()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_TLS=False)
    yield server
    app.config.update(MAIL_SERVER=None)
    server.stop()


def _counts() -> dict[str, int]:
    return {
        "reports": db.session.scalar(select(func.count(ValueReport.id))),
        "notifications": db.session.scalar(select(func.count(Notification.id))),
        "jobs": db.session.scalar(select(func.count(OutboxJob.id))),
        "journals": db.session.scalar(select(func.count(Journal.id))),
        "accounts": db.session.scalar(select(func.count(Account.id))),
    }


def test_several_co_creators_get_exactly_their_parts_one_notification_and_one_email(
    app, people, awarded, smtp
):
    with app.app_context():
        helpers = add_co_creators(awarded.award_id, HELPERS, "helper")
        team = {user(awarded.lead).id: 6000, user(awarded.partner).id: 4000}
        weights = {**team, **dict(zip(helpers, HELPERS, strict=True))}
        data = period(awarded, 0, 89, VALUE)
        jobs_before = db.session.scalar(select(func.max(OutboxJob.id)))
        report = reports.report_value(user(people.manager), awarded.award_id, data)

        expected = reference_split(5_000, weights)
        assert report.shares == {str(uid): part for uid, part in expected.items()}
        assert report.weights == {str(uid): weight for uid, weight in weights.items()}
        assert expected[helpers[3]] == 0 and sum(expected.values()) == 5_000
        assert expected[helpers[1]] == expected[helpers[2]] + 1  # the tie: smaller id first
        credited = dict(
            db.session.execute(
                select(Account.code, Transfer.amount)
                .join(Account, Account.id == Transfer.credit_account_id)
                .where(Transfer.journal_id == report.journal_id)
            ).all()
        )
        assert credited == {
            f"liability:payable:solver:{uid}:usd": part for uid, part in expected.items() if part
        }
        assert chart.payable(db.session, helpers[0], "USD").credits_posted == expected[helpers[0]]
        payable_codes = db.session.scalars(
            select(Account.code).where(Account.code.like("liability:payable:solver:%"))
        ).all()
        assert f"liability:payable:solver:{helpers[3]}:usd" not in payable_codes  # nothing owed

        body = f"50.00 USD shared for {data['period_start']} to {data['period_end']}."
        rows = db.session.scalars(
            select(Notification).where(Notification.kind == "value_share").order_by(Notification.id)
        ).all()
        assert [(n.user_id, n.kind, n.title, n.body, n.link) for n in rows] == [
            (uid, "value_share", "A value share was reported for your solution", body,
             "/me/earnings")
            for uid in sorted(weights)
        ]  # fmt: skip
        assert all(n.emailed_at is not None and n.read_at is None for n in rows)
        later = select(OutboxJob).where(OutboxJob.id > jobs_before, EMAILS)
        jobs = db.session.scalars(later).all()
        assert [(job.function, job.status) for job in jobs] == [
            ("send_notification_email_ranges", JobStatus.DONE)
        ]
        assert send_notification_email_ranges(jobs[0].args[0]) == 0  # a retry sends nothing
        addresses = db.session.scalars(select(User.email).where(User.id.in_(weights))).all()
        assert ledger.verify(db.session) == []

    assert sorted(re.search(r"<(.*)>", r).group(1) for r in smtp.recipients()) == sorted(addresses)
    for message in smtp.messages:
        assert "Subject: A value share was reported for your solution" in message["data"]
        assert body in message["data"]
        assert "http://127.0.0.1:5000/me/earnings" in message["data"]


def test_a_large_crowd_is_emailed_by_follow_up_jobs_each_once(
    app, people, awarded, smtp, monkeypatch
):
    """Chunks of two, and a budget spent after the first chunk: every job hands the rest on,
    and every co-creator still gets one email; rows already emailed are skipped."""
    monkeypatch.setattr(bulk, "EMAIL_CHUNK", 2)
    monkeypatch.setattr(bulk, "JOB_BUDGET", 0.0)
    with app.app_context():
        add_co_creators(awarded.award_id, HELPERS, "helper")
        jobs_before = db.session.scalar(select(func.max(OutboxJob.id)))
        reports.report_value(user(people.manager), awarded.award_id, period(awarded, 0, 89, VALUE))
        jobs = db.session.scalars(
            select(OutboxJob).where(OutboxJob.id > jobs_before, EMAILS).order_by(OutboxJob.id)
        ).all()
        assert [job.function for job in jobs] == ["send_notification_email_ranges"] * 4  # 7 / 2
        assert {job.status for job in jobs} == {JobStatus.DONE}
        assert db.session.scalar(
            select(func.count(Notification.id)).where(Notification.emailed_at.is_(None))
        ) == 0  # fmt: skip
    assert len(smtp.messages) == 7
    assert len(set(smtp.recipients())) == 7


def test_ranges_cover_exactly_the_ids():
    assert bulk.ranges_of([7, 3, 4, 5, 9, 10]) == [[3, 5], [7, 7], [9, 10]]
    assert bulk.ranges_of([]) == []


def test_an_account_conflict_midway_writes_nothing(app, people, awarded):
    """One co-creator's payable exists with other rules: the whole report is refused, and no
    other payable, journal, report, notification or job is left behind."""
    with app.app_context():
        helpers = add_co_creators(awarded.award_id, HELPERS, "helper")
        ledger.open_account(
            db.session, f"liability:payable:solver:{helpers[2]}:usd", AccountType.LIABILITY, "USD"
        )  # no overdraft rule: not a payable as the chart opens it
        db.session.commit()
        before = _counts()
        with pytest.raises(AccountConflict):
            reports.report_value(
                user(people.manager), awarded.award_id, period(awarded, 0, 89, VALUE)
            )
        assert _counts() == before
        assert ledger.verify(db.session) == []


def test_a_ledger_refusal_midway_writes_nothing(app, people, awarded):
    """The ledger refuses the journal (its key was used for other transfers) after the
    payables were opened in the same transaction: they are gone with the rest."""
    with app.app_context():
        add_co_creators(awarded.award_id, HELPERS, "helper")
        org_id = db.session.get(Challenge, award(awarded.award_id).challenge_id).organization_id
        receivable = chart.receivable(db.session, org_id, "USD")
        ledger.post_transfer(
            db.session,
            debit=receivable.id,
            credit=chart.payable(db.session, user(awarded.lead).id, "USD").id,
            amount=1,
            code="VALUE_SHARE",
            key=f"value:award:{awarded.award_id}:1",
            recorded_by="test",
        )
        db.session.commit()
        before = _counts()
        with pytest.raises(IdempotencyConflict):
            reports.report_value(
                user(people.manager), awarded.award_id, period(awarded, 0, 89, VALUE)
            )
        assert _counts() == before
        assert ledger.verify(db.session) == []


def _statements_of_a_report(app, people, awarded, first_day: int) -> list[str]:
    """The statements of one filing. On SQLite the ledger writes a journal's transfers one
    INSERT each (in process: no round trips to save, ledger/posting.py ``_write_generic``):
    those are left out there; on PostgreSQL every statement counts."""
    with app.app_context():
        manager_id = user(people.manager).id
        per_transfer = db.engine.dialect.name == "sqlite"
    with statements_during(app) as seen, app.app_context():
        manager = db.session.get(User, manager_id)
        reports.report_value(manager, awarded.award_id, period(awarded, first_day, first_day + 89))
    return [
        statement
        for statement in seen
        if not (per_transfer and statement.startswith("INSERT INTO ledger_transfers"))
    ]


def test_filing_costs_the_same_statements_for_5_and_for_50_co_creators(
    app, people, awarded, monkeypatch
):
    """Jobs recorded, not run (the email job is a worker's business, one row either way)."""
    monkeypatch.setattr(queue, "hand_over", lambda ids: len(list(ids)))
    with app.app_context():
        add_co_creators(awarded.award_id, [100] * 3, "five")
        challenge = db.session.get(Challenge, award(awarded.award_id).challenge_id)
        organization_id = challenge.organization_id
        with transaction():  # the insight's refresh waits already: each report finds it
            queue.enqueue_once("refresh_solver_facts", organization_id)
    five = _statements_of_a_report(app, people, awarded, 0)
    with app.app_context():
        add_co_creators(awarded.award_id, [100] * 45, "fifty")
    fifty = _statements_of_a_report(app, people, awarded, 90)
    with app.app_context():
        shares = db.session.scalars(select(ValueReport.shares).order_by(ValueReport.id)).all()
        assert [len(s) for s in shares] == [5, 50]
        shared = select(func.count(Notification.id)).where(Notification.kind == "value_share")
        assert db.session.scalar(shared) == 55
        emailing = OutboxJob.function == "send_notification_email_ranges"
        assert db.session.scalar(select(func.count(OutboxJob.id)).where(emailing)) == 2
    assert len(fifty) == len(five), "\n".join(fifty)


def test_notify_many_skips_duplicates_and_nobody(app):
    with app.app_context():
        a, b = UserFactory(), UserFactory()
        assert bulk.notify_many([], kind="x", title="t") == 0
        assert bulk.notify_many([b.id, a.id, b.id], kind="x", title="t" * 300, body="b") == 2
        rows = db.session.scalars(select(Notification).order_by(Notification.id)).all()
        assert [(n.user_id, n.title) for n in rows] == [(min(a.id, b.id), "t" * 200),
                                                       (max(a.id, b.id), "t" * 200)]  # fmt: skip
        assert all(utcnow() - n.created_at < timedelta(minutes=5) for n in rows)


def _statements_of_a_withdrawal(app, people, report_id: int) -> list[str]:
    with app.app_context():
        manager_id = user(people.manager).id
        per_transfer = db.engine.dialect.name == "sqlite"
    with statements_during(app) as seen, app.app_context():
        reports.reverse_report(db.session.get(User, manager_id), report_id, "Wrong figure")
    return [
        statement
        for statement in seen
        if not (per_transfer and statement.startswith("INSERT INTO ledger_transfers"))
    ]


def test_withdrawing_a_report_is_one_journal_whatever_the_co_creators(
    app, people, awarded, monkeypatch
):
    """Every transfer of the report is undone by a REVERSAL pointing at it, all in one
    journal; the statements do not grow from 5 to 50 co-creators."""
    monkeypatch.setattr(queue, "hand_over", lambda ids: len(list(ids)))
    counts = []
    for prefix, more, first_day in (("five", 3, 0), ("fifty", 45, 90)):
        with app.app_context():
            add_co_creators(awarded.award_id, [100] * more, prefix)
            manager = user(people.manager)
            report = reports.report_value(
                manager, awarded.award_id, period(awarded, first_day, first_day + 89)
            )
            report_id, journal_id = report.id, report.journal_id
        counts.append(len(_statements_of_a_withdrawal(app, people, report_id)))
        with app.app_context():
            originals = db.session.execute(
                select(Transfer.id, Transfer.debit_account_id, Transfer.credit_account_id,
                       Transfer.amount).where(Transfer.journal_id == journal_id)
            ).all()  # fmt: skip
            reversals = db.session.execute(
                select(Transfer.reverses_id, Transfer.credit_account_id,
                       Transfer.debit_account_id, Transfer.amount, Transfer.journal_id)
                .where(Transfer.reverses_id.in_([t.id for t in originals]))
            ).all()  # fmt: skip
            assert sorted(tuple(r)[:4] for r in reversals) == sorted(tuple(t) for t in originals)
            assert len({r.journal_id for r in reversals}) == 1
            assert db.session.get(ValueReport, report_id).status == "reversed"
            assert receivable_balance(awarded) == 0
            assert ledger.verify(db.session) == []
    assert counts[0] == counts[1]


def receivable_balance(awarded) -> int:
    org_id = db.session.get(Challenge, award(awarded.award_id).challenge_id).organization_id
    account = chart.receivable(db.session, org_id, "USD")
    return account.debits_posted - account.credits_posted


def test_a_withdrawal_of_a_share_paid_out_is_refused_and_writes_nothing(app, people, awarded):
    with app.app_context():
        helpers = add_co_creators(awarded.award_id, HELPERS, "helper")
        manager = user(people.manager)
        report = reports.report_value(manager, awarded.award_id, period(awarded, 0, 89, VALUE))
        paid = chart.payable(db.session, helpers[0], "USD")
        ledger.post_transfer(
            db.session,
            debit=paid.id,
            credit=chart.cash(db.session, "USD").id,
            amount=paid.credits_posted,
            code="PAYOUT",
            key="test-payout",
            recorded_by="test",
        )
        db.session.commit()
        before = _counts()
        with pytest.raises(Conflict, match="already paid out"):
            reports.reverse_report(manager, report.id, "Wrong figure")
        assert _counts() == before
        assert db.session.get(ValueReport, report.id).status == "posted"
        assert not db.session.scalar(
            select(func.count(Transfer.id)).where(Transfer.code == "REVERSAL")
        )


def test_payables_opened_at_once_are_those_opened_one_by_one(app):
    with app.app_context():
        ids = [UserFactory().id for _ in range(6)]
        existing = chart.payable(db.session, ids[2], "USD").id
        opened = chart.payables(db.session, reversed(ids), "USD")
        assert list(opened) == list(reversed(ids))
        assert opened[ids[2]] == existing
        for uid in ids:
            account = chart.payable(db.session, uid, "USD")
            assert (opened[uid], account.name) == (account.id, f"Owed to solver {uid}")
            assert account.debits_must_not_exceed_credits
        assert len(set(opened.values())) == 6
