"""The flask commands: demo data, ledger verify / trial-balance / export, create-user."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from ledger import Journal, Transfer
from marketplace.accounts.models import Organization, User
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.judging.models import Award, Decision, Outcome, Review
from marketplace.payments.models import Payment
from marketplace.payouts.models import PayoutAccount, PayoutBatch, PayoutLine
from marketplace.proposals.models import Message, Proposal, ProposalStatus
from marketplace.value.models import Contribution, ValueReport
from tests.conftest import services_required


@pytest.fixture
def demo(runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    return result


def test_demo_loads_once_and_the_book_verifies(app, runner, demo) -> None:
    assert "Demo loaded" in demo.output
    again = runner.invoke(args=["demo", "--if-empty"])
    assert "already has data" in again.output
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 15
        assert db.session.scalar(select(func.count(Transfer.id))) >= 15
        kinds = db.session.execute(select(Challenge.visibility, Challenge.status)).all()
        assert {v for v, _ in kinds} == {"public", "internal", "invite_only"}
        assert {s for _, s in kinds} == {"draft", "open", "judging", "cancelled", "closed"}
        assert db.session.scalar(select(func.count(Organization.id))) == 2
    verified = runner.invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "The book is right" in verified.output


def test_demo_has_teams_reviews_decisions_and_awards(app, demo) -> None:
    with app.app_context():
        proposals = list(db.session.scalars(select(Proposal)))
        assert {p.status for p in proposals} >= {
            ProposalStatus.DRAFT,
            ProposalStatus.SUBMITTED,
            ProposalStatus.AWARDED,
            ProposalStatus.DECLINED,
        }
        teams = [p for p in proposals if len(p.members) > 1]
        splits = {tuple(sorted(m.share_bp for m in p.members)) for p in teams}
        assert {(4000, 6000), (3333, 3333, 3334)} <= splits
        assert all(p.split_confirmed for p in teams)
        assert any(p.shortlisted and p.status == ProposalStatus.SUBMITTED for p in proposals)
        assert db.session.scalar(select(func.count(Review.id))) >= 4
        declines = list(
            db.session.scalars(select(Decision).where(Decision.outcome == Outcome.DECLINE))
        )
        assert declines and all(d.feedback.strip() for d in declines)
        awards = list(db.session.scalars(select(Award)))
        assert len(awards) >= 1
        for award in awards:
            journal = db.session.get(Journal, award.journal_id)
            assert journal is not None
            posted = db.session.scalars(
                select(Transfer).where(Transfer.journal_id == journal.id)
            ).all()
            assert {t.code for t in posted} == {"AWARD", "FEE"}
            assert sum(t.amount for t in posted if t.code == "AWARD") == award.amount
        team_award = next(a for a in awards if len(a.shares) == 2)
        assert sorted(team_award.shares.values()) == [400_000, 600_000]
        assert db.session.scalar(select(func.count(Message.id))) >= 2
        closed = db.session.scalar(select(Challenge).where(Challenge.status == "closed"))
        refunds = db.session.scalars(
            select(Payment).where(Payment.challenge_id == closed.id, Payment.kind == "refund")
        ).all()
        assert len(refunds) == 1


def _by_email(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def test_demo_shares_value_and_pays_solvers_in_batches(app, demo) -> None:
    with app.app_context():
        pouch = db.session.scalar(select(Challenge).where(Challenge.status == "closed"))
        award = db.session.scalar(select(Award).where(Award.challenge_id == pouch.id))
        li, grace = _by_email("li@solver.example"), _by_email("grace@solver.example")
        later = db.session.scalar(select(Contribution).where(Contribution.kind == "later"))
        assert (later.award_id, later.user_id, later.weight) == (award.id, grace.id, 2500)
        assert later.confirmed_at is not None
        assert later.recorded_by_id == _by_email("max@acme.example").id

        # Quarterly reports on the pouch: the second reversed and replaced by its correction.
        reports = db.session.scalars(select(ValueReport).order_by(ValueReport.id)).all()
        assert [r.status for r in reports] == ["posted", "reversed", "posted", "posted"]
        assert all(r.award_id == award.id and r.share_bp == 300 for r in reports)
        wrong, correction = reports[1], reports[2]
        assert correction.corrects_id == wrong.id and wrong.reversal_reason
        assert (wrong.period_start, wrong.period_end) == (
            correction.period_start,
            correction.period_end,
        )
        assert [r.share_amount for r in reports] == [144_000, 183_750, 168_750, 211_200]
        assert reports[0].shares == {str(li.id): 144_000}  # before Grace's contribution
        assert reports[3].shares == {str(li.id): 168_960, str(grace.id): 42_240}
        originals = db.session.scalars(
            select(Transfer.id).where(Transfer.journal_id == wrong.journal_id)
        ).all()
        reversals = db.session.scalars(
            select(Transfer.reverses_id).where(Transfer.code == "REVERSAL")
        ).all()
        assert len(originals) == 2 and sorted(reversals) == sorted(originals)
        paid_share = db.session.scalar(select(Payment).where(Payment.kind == "value_share"))
        assert (paid_share.value_report_id, paid_share.status) == (reports[0].id, "settled")

        # Payout accounts for everyone awarded but Sofia: she is owed, and not in any batch.
        onboarded = set(db.session.scalars(select(PayoutAccount.user_id)))
        sofia = _by_email("sofia@solver.example")
        assert sofia.id not in onboarded and {li.id, grace.id} <= onboarded
        assert all(p.payouts_enabled for p in db.session.scalars(select(PayoutAccount)))

        paid, waiting = db.session.scalars(select(PayoutBatch).order_by(PayoutBatch.id)).all()
        assert paid.status == "completed" and paid.approved_by_id != paid.prepared_by_id
        assert _by_email("felix@platform.example").id == paid.approved_by_id
        assert waiting.status == "prepared" and waiting.approved_by_id is None
        assert _by_email("fiona@platform.example").id == waiting.prepared_by_id
        lines = db.session.scalars(select(PayoutLine).order_by(PayoutLine.id)).all()
        assert {(line.batch_id, line.status) for line in lines} == {
            (paid.id, "paid"),
            (waiting.id, "reserved"),
        }
        assert sofia.id not in {line.user_id for line in lines}
        assert (paid.line_count, paid.total) == (3, 1_212_750)
        assert (waiting.line_count, waiting.total) == (2, 211_200)
        payouts = db.session.scalars(select(Transfer).where(Transfer.code == "PAYOUT")).all()
        status_of = {t.id: t.status for t in payouts}
        for line in lines:
            assert status_of[line.transfer_id] == (
                "posted" if line.batch_id == paid.id else "pending"
            )


def test_verify_exits_1_and_names_the_account_when_a_counter_is_wrong(app, runner, demo) -> None:
    with app.app_context():
        db.session.execute(
            text(
                "UPDATE ledger_accounts SET credits_posted = credits_posted + 7 "
                "WHERE code = 'revenue:fees:usd'"
            )
        )
        db.session.commit()
    result = runner.invoke(args=["ledger", "verify"])
    assert result.exit_code == 1
    assert "revenue:fees:usd: credits_posted is 130007, transfers say 130000" in result.output


def _trial_balance(runner, *extra: str) -> list[dict]:
    result = runner.invoke(args=["ledger", "trial-balance", "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_trial_balance_json(runner, demo) -> None:
    lines = _trial_balance(runner)
    assert set(lines[0]) == {"account", "type", "currency", "debits", "credits", "balance"}
    assert all(line["balance"] == line["debits"] - line["credits"] for line in lines)
    assert sum(line["balance"] for line in lines) == 0
    fees = next(line for line in lines if line["account"] == "revenue:fees:usd")
    # 10 % of the two first prizes: 10,000.00 (concrete) and 3,000.00 (refill pouch).
    assert (fees["debits"], fees["credits"], fees["balance"]) == (0, 130_000, -130_000)


def test_trial_balance_as_of_before_anything_is_all_zero(runner, demo) -> None:
    lines = _trial_balance(runner, "--as-of", "2000-01-01T00:00:00+00:00")
    assert lines and all(line["debits"] == line["credits"] == 0 for line in lines)


@pytest.mark.parametrize("as_of", ["yesterday", "2026-01-01T00:00:00"])
def test_trial_balance_refuses_a_bad_moment(runner, as_of) -> None:
    result = runner.invoke(args=["ledger", "trial-balance", "--as-of", as_of])
    assert result.exit_code == 2
    assert "--as-of" in result.output


def test_csv_export_has_one_row_per_transfer(app, runner, demo, tmp_path) -> None:
    target = tmp_path / "book.csv"
    result = runner.invoke(args=["ledger", "export", "--format", "csv", "-o", str(target)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    with app.app_context():
        assert len(rows) == db.session.scalar(select(func.count(Transfer.id)))
    # The corrected value report: its share (1,837.50 split 80/20) reversed transfer by transfer.
    reversals = [row for row in rows if row["code"] == "REVERSAL"]
    assert all(row["reverses_id"] for row in reversals)
    assert sorted(row["amount_minor"] for row in reversals) == ["147000", "36750"]


def _hledger_balances(journal: Path, *extra: str) -> dict[str, int]:
    output = subprocess.run(
        [
            "hledger",
            "-f",
            str(journal),
            "balance",
            "--cleared",
            "--flat",
            "--no-total",
            "-O",
            "csv",
            *extra,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    balances = {}
    for row in list(csv.reader(io.StringIO(output)))[1:]:
        number, _currency = row[1].split()
        whole, _, fraction = number.partition(".")
        sign = -1 if whole.startswith("-") else 1
        balances[row[0]] = sign * int(whole.lstrip("-") + fraction)
    return balances


def test_hledger_agrees_with_the_trial_balance(runner, demo, tmp_path) -> None:
    if not shutil.which(os.environ.get("HLEDGER", "hledger")):
        if services_required():
            pytest.fail("hledger is not installed (REQUIRE_SERVICES=1)")
        pytest.skip("hledger is not installed: `apt-get install hledger` to run this check")
    journal = tmp_path / "book.journal"
    result = runner.invoke(args=["ledger", "export", "--format", "hledger", "-o", str(journal)])
    assert result.exit_code == 0, result.output
    ours = {line["account"]: line["balance"] for line in _trial_balance(runner) if line["balance"]}
    assert ours == _hledger_balances(journal)
    assert len(ours) >= 4


def test_create_user_makes_staff_and_refuses_bad_input(app, runner) -> None:
    created = runner.invoke(
        args=["create-user", "Fin@Example.com", "--finance", "--password", "long enough pw"]
    )
    assert created.exit_code == 0, created.output
    assert "fin@example.com (finance)" in created.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "fin@example.com"))
        assert user.is_platform_finance and not user.is_admin
    duplicate = runner.invoke(
        args=["create-user", "FIN@example.com", "--password", "long enough pw"]
    )
    assert duplicate.exit_code == 2 and "already exists" in duplicate.output
    short = runner.invoke(args=["create-user", "x@example.com", "--admin", "--password", "short"])
    assert short.exit_code == 2 and "at least 12 characters" in short.output
