"""Judging rules at the service level: reviewer conflicts, scores, decisions with feedback,
awards to the ledger (exact splits, fees, over-award, idempotency), and closing out."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import ledger
from ledger import InsufficientFunds, Journal, Transfer
from marketplace.challenges import services as needs
from marketplace.challenges.models import Challenge, Status
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.extensions import db
from marketplace.finance import chart
from marketplace.judging import closing, decisions, reviews
from marketplace.judging.models import Award, Decision
from marketplace.notifications.models import Notification
from marketplace.outbox import OutboxJob
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus
from marketplace.payments.services import escrow_available
from marketplace.proposals.models import Proposal
from marketplace.value.models import Contribution
from tests.challenges.conftest import user
from tests.factories import UserFactory
from tests.proposals.conftest import accept, need_with, submit

SCORES = [
    {"criterion": "Feasibility", "score": 8, "comment": "A pilot line exists."},
    {"criterion": "Impact", "score": 5, "comment": "Narrow market."},
]


def payable(app, email: str) -> int:
    account = chart.payable(db.session, user(email).id, "USD")
    return account.credits_posted - account.debits_posted


def journals(key: str) -> int:
    return db.session.scalar(select(func.count(Journal.id)).where(Journal.key == key))


def test_reviews_give_a_weighted_mean_and_a_spread(app, people, submitted):
    with app.app_context():
        manager = user(people.manager)
        for email in (people.reviewer, people.owner):
            reviews.assign_reviewer(manager, submitted.proposal_id, user(email).id)
        reviews.submit_review(user(people.reviewer), submitted.proposal_id, SCORES)
        reviews.submit_review(
            user(people.owner),
            submitted.proposal_id,
            [{**SCORES[0], "score": 10}, {**SCORES[1], "score": 9}],
        )
        (standing,) = reviews.scoreboard(manager, submitted.challenge_id).items
        # 8*0.6 + 5*0.4 = 6.80 and 10*0.6 + 9*0.4 = 9.60: mean 8.20, spread 2.80
        assert (standing.reviews, standing.mean_centi, standing.spread_centi) == (2, 820, 280)


@pytest.mark.parametrize(
    "entries, field",
    [
        ([SCORES[0]], "scores"),
        ([SCORES[0], {**SCORES[1], "score": 11}], "Impact"),
        ([SCORES[0], {**SCORES[1], "score": 7.5}], "Impact"),
        ([SCORES[0], {**SCORES[1], "comment": " "}], "Impact"),
        ([SCORES[0], SCORES[1], {**SCORES[1], "criterion": "Beauty"}], "scores"),
    ],
)
def test_a_review_scores_every_criterion_with_a_comment(app, people, submitted, entries, field):
    with app.app_context():
        reviewer = user(people.reviewer)
        reviews.assign_reviewer(user(people.manager), submitted.proposal_id, reviewer.id)
        with pytest.raises(Invalid) as refused:
            reviews.submit_review(reviewer, submitted.proposal_id, entries)
        assert field in refused.value.errors
        assert reviews.reviews_of(user(people.manager), submitted.proposal_id) == []


def test_only_assigned_reviewers_score(app, people, submitted):
    with app.app_context():
        with pytest.raises(Forbidden, match="assigned"):
            reviews.submit_review(user(people.reviewer), submitted.proposal_id, SCORES)
        with pytest.raises(Forbidden):  # reviewers do not assign
            reviews.assign_reviewer(
                user(people.reviewer), submitted.proposal_id, user(people.reviewer).id
            )
        with pytest.raises(Invalid):  # finance members are not reviewers
            reviews.assign_reviewer(
                user(people.manager), submitted.proposal_id, user(people.finance).id
            )
        with pytest.raises(NotFound):  # another organization does not see the proposal
            reviews.assign_reviewer(
                user(people.rival), submitted.proposal_id, user(people.rival).id
            )


def test_a_reviewer_on_the_team_is_refused(app, people):
    challenge_id = need_with(app, people, exclude_org_members=False)
    for email in (people.solver, people.reviewer):
        accept(app, email, challenge_id)
    proposal_id = submit(app, people.solver, challenge_id, [people.reviewer], [5000, 5000])
    with app.app_context():
        with pytest.raises(Conflict, match="team cannot review"):
            reviews.assign_reviewer(user(people.manager), proposal_id, user(people.reviewer).id)
        with pytest.raises(Forbidden, match="team cannot review"):
            reviews.submit_review(user(people.reviewer), proposal_id, SCORES)


def test_an_award_posts_one_journal_split_by_the_locked_shares(app, people, submitted):
    with app.app_context():
        award = decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "Brilliant")
        assert (award.amount, award.fee, award.currency) == (1_000_000, 100_000, "USD")
        assert payable(app, submitted.lead) == 600_000
        assert payable(app, submitted.partner) == 400_000
        fees = chart.fees(db.session, "USD")
        assert fees.credits_posted == 100_000
        codes = db.session.scalars(
            select(Transfer.code).where(Transfer.journal_id == award.journal_id)
        ).all()
        assert sorted(codes) == ["AWARD", "AWARD", "FEE"]
        assert award.ip_terms == "non_exclusive_licence"
        assert award.ip_status == "pending_transfer"
        assert db.session.get(Decision, award.decision_id).feedback == "Brilliant"
        assert ledger.verify(db.session) == []


def test_an_odd_amount_splits_exactly_by_largest_remainder(app, people):
    challenge_id = need_with(app, people, prizes=(1_000_001,), platform_fee_bp=1_000)
    with app.app_context():
        for email in ("b@example.com", "c@example.com"):
            UserFactory(email=email)
    for email in (people.solver, "b@example.com", "c@example.com"):
        accept(app, email, challenge_id)
    proposal_id = submit(
        app, people.solver, challenge_id, ["b@example.com", "c@example.com"], [3333, 3333, 3334]
    )
    with app.app_context():
        award = decisions.award_prize(user(people.manager), proposal_id, 1, "Well done")
        parts = {
            email: payable(app, email)
            for email in (people.solver, "b@example.com", "c@example.com")
        }
        # 1,000,001 x 33.33 % = 333,300.33 twice, x 33.34 % = 333,400.33: the cent left over
        # goes to the largest remainder.
        assert parts == {people.solver: 333_300, "b@example.com": 333_300, "c@example.com": 333_401}
        assert sum(parts.values()) == award.amount == 1_000_001
        assert award.fee == 100_000  # 10 % of 1,000,001, rounded down: escrow always holds it


def test_awarding_the_same_prize_twice_writes_nothing_twice(app, people, submitted):
    with app.app_context():
        manager = user(people.manager)
        first = decisions.award_prize(manager, submitted.proposal_id, 1, "Brilliant")
        again = decisions.award_prize(manager, submitted.proposal_id, 1, "Brilliant")
        assert again.id == first.id
        assert journals(f"award:proposal:{submitted.proposal_id}") == 1
        assert payable(app, submitted.lead) == 600_000
        with pytest.raises(Conflict, match="decision already"):
            decisions.award_prize(manager, submitted.proposal_id, 2, "Second after all")


def test_a_prize_goes_to_one_proposal_unless_partial_awards_are_allowed(app, people, submitted):
    other = submit(app, people.other_solver, submitted.challenge_id)
    with app.app_context():
        manager = user(people.manager)
        decisions.award_prize(manager, submitted.proposal_id, 1, "First")
        with pytest.raises(Conflict, match="Prize 1 has been awarded"):
            decisions.award_prize(manager, other, 1, "Also first")
        with pytest.raises(Invalid, match="highlighted") as refused:
            decisions.award_prize(manager, other, 2, "Half of second", amount=250_000)
        assert "partial awards" in refused.value.errors["amount"][0]
        assert decisions.award_prize(manager, other, 2, "Second").amount == 500_000


def test_partial_awards_share_a_prize_up_to_its_amount(app, people):
    challenge_id = need_with(app, people, partial_awards=True)
    for email in (people.solver, people.other_solver):
        accept(app, email, challenge_id)
    first, second = (submit(app, e, challenge_id) for e in (people.solver, people.other_solver))
    with app.app_context():
        manager = user(people.manager)
        decisions.award_prize(manager, first, 1, "Shared first", amount=600_000)
        with pytest.raises(Invalid) as refused:
            decisions.award_prize(manager, second, 1, "Too much", amount=400_001)
        assert "Only 4,000.00 USD of prize 1 is left" in refused.value.errors["amount"][0]
        assert decisions.award_prize(manager, second, 1, "Shared first").amount == 400_000
        assert decisions.prize_left(db.session.get(Challenge, challenge_id), 1) == 0


def test_an_award_beyond_what_escrow_holds_is_refused_by_the_ledger(app, people, submitted):
    with app.app_context():
        challenge = db.session.get(Challenge, submitted.challenge_id)
        escrow = chart.escrow(db.session, challenge.id, "USD")
        # Money leaves escrow behind the award's back (as a mistaken refund would).
        ledger.post_transfer(
            db.session, debit=escrow.id, credit=chart.cash(db.session, "USD").id,
            amount=escrow_available(challenge) - 500_000, code="REFUND", key="test:drain",
            recorded_by="test",
        )  # fmt: skip
        db.session.commit()
        with pytest.raises(Conflict, match="escrow holds only 5,000.00 USD"):
            decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "Brilliant")
        assert db.session.scalar(select(func.count(Decision.id))) == 0
        assert db.session.scalar(select(func.count(Award.id))) == 0
        assert db.session.get(Proposal, submitted.proposal_id).status == "submitted"
        assert journals(f"award:proposal:{submitted.proposal_id}") == 0
        assert escrow_available(challenge) == 500_000


@pytest.mark.parametrize(
    "who, refusal",
    [("reviewer", Forbidden), ("solver", Forbidden), ("finance", NotFound), ("rival", NotFound)],
)
def test_only_owners_and_managers_decide(app, people, submitted, who, refusal):
    """The team lead and Acme's reviewer see the proposal but may not decide; Acme's finance
    member and another organization's manager do not even see it."""
    with app.app_context():
        actor = user(getattr(people, who))
        with pytest.raises(refusal):
            decisions.award_prize(actor, submitted.proposal_id, 1, "Mine")
        with pytest.raises(refusal):
            decisions.decline_proposal(actor, submitted.proposal_id, "No")
        assert db.session.scalar(select(func.count(Decision.id))) == 0


def test_every_decision_carries_feedback(app, people, submitted):
    with app.app_context():
        for decide in (
            lambda: decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "  "),
            lambda: decisions.decline_proposal(user(people.manager), submitted.proposal_id, ""),
        ):
            with pytest.raises(Invalid) as refused:
                decide()
            assert "feedback" in refused.value.errors
        assert db.session.scalar(select(func.count(Decision.id))) == 0
        decision = decisions.decline_proposal(
            user(people.manager), submitted.proposal_id, "Too costly at our volumes."
        )
        assert decision.response_seconds >= 0
        assert db.session.get(Proposal, submitted.proposal_id).status == "declined"


def test_a_need_closes_only_when_every_input_has_an_answer(app, people, submitted):
    with app.app_context():
        manager = user(people.manager)
        with pytest.raises(Conflict, match="open until its deadline"):
            closing.close_challenge(manager, submitted.challenge_id)
        needs.advance_deadlines(now=db.session.get(Challenge, submitted.challenge_id).deadline)
        with pytest.raises(Conflict, match="1 submitted proposal still wait"):
            closing.close_challenge(manager, submitted.challenge_id)
        assert db.session.get(Challenge, submitted.challenge_id).status == Status.JUDGING


def test_the_last_decision_closes_a_judged_need_and_returns_unspent_escrow(app, people, submitted):
    with app.app_context():
        challenge = db.session.get(Challenge, submitted.challenge_id)
        needs.advance_deadlines(now=challenge.deadline)
        decisions.award_prize(user(people.manager), submitted.proposal_id, 1, "Brilliant")
        db.session.refresh(challenge)
        assert challenge.status == Status.CLOSED
        escrow = chart.escrow(db.session, challenge.id, "USD")
        # 1,650,000 funded; 1,000,000 awarded and 100,000 fee; 550,000 refunded.
        assert escrow.credits_posted - escrow.debits_posted == 0
        refund = db.session.scalar(
            select(Transfer).where(
                Transfer.code == "REFUND", Transfer.debit_account_id == escrow.id
            )
        )
        assert refund.amount == 550_000
        assert closing.responses(challenge).rate_percent == 100
        assert ledger.verify(db.session) == []


@pytest.mark.parametrize("reviewer_id", [2**63, -1, 0, "7", None])
def test_a_reviewer_id_out_of_range_is_a_field_error(app, people, submitted, reviewer_id):
    with app.app_context():
        with pytest.raises(Invalid) as refused:
            reviews.assign_reviewer(user(people.manager), submitted.proposal_id, reviewer_id)
        assert "reviewer_id" in refused.value.errors


def _decide(manager, proposal_id: int, outcome: str) -> None:
    if outcome == "award":
        decisions.award_prize(manager, proposal_id, 1, "Brilliant, thank you.")
    else:
        decisions.decline_proposal(manager, proposal_id, "Not for us, thank you.")


def _count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def refuse_refund_reservations(monkeypatch) -> None:
    """The ledger refuses the close-out's refund reservation (as it would if escrow had been
    drawn on behind the close-out's back); every other posting goes through."""
    post_transfer = ledger.post_transfer

    def refusing(session, **transfer):
        if transfer["code"] == "REFUND":
            raise InsufficientFunds("liability:escrow:challenge", 0, "USD")
        return post_transfer(session, **transfer)

    monkeypatch.setattr(ledger, "post_transfer", refusing)


@pytest.mark.parametrize("outcome", ["award", "decline"])
def test_a_decision_whose_close_out_fails_leaves_nothing_behind(
    app, people, submitted, monkeypatch, outcome
):
    """The ledger refuses the refund reservation, so closing the need after its last answer
    fails. Decision, notifications and close-out are one transaction: the decision fails with
    the close-out and leaves no row, no ledger transfer, no payment, no notification and no
    job behind; the need stays in judging, its escrow whole."""
    refuse_refund_reservations(monkeypatch)
    with app.app_context():
        challenge = db.session.get(Challenge, submitted.challenge_id)
        needs.advance_deadlines(now=challenge.deadline)
        written = (Transfer, Journal, Notification, OutboxJob, Payment)
        before = [_count(model) for model in written]
        with pytest.raises(Conflict, match="last answer.*would be overdrawn.*Nothing was saved"):
            _decide(user(people.manager), submitted.proposal_id, outcome)
        db.session.expire_all()
        assert (_count(Decision), _count(Award), _count(Contribution)) == (0, 0, 0)
        assert [_count(model) for model in written] == before
        assert journals(f"award:proposal:{submitted.proposal_id}") == 0
        assert payable(app, people.solver) == 0
        proposal = db.session.get(Proposal, submitted.proposal_id)
        assert (proposal.status, proposal.split_locked_at) == ("submitted", None)
        challenge = db.session.get(Challenge, submitted.challenge_id)
        assert (challenge.status, challenge.closed_at) == (Status.JUDGING, None)
        assert escrow_available(challenge) == 1_650_000
        assert ledger.verify(db.session) == []


@pytest.mark.parametrize(("outcome", "unspent"), [("award", 550_000), ("decline", 1_650_000)])
def test_a_refund_the_provider_refuses_leaves_the_decision_and_the_close_out_standing(
    app, people, submitted, stripe_app, stripe_server, outcome, unspent
):
    """Funded in the sandbox, the escrow cannot be refunded through Stripe. The provider is
    asked after the decision's commit, so its refusal no longer undoes anything: the decision
    and the close-out stand, the reservation is voided (the money stays in escrow), the refund
    payment is failed and the platform admins are told."""
    with app.app_context():
        admin = UserFactory(is_admin=True)
        challenge = db.session.get(Challenge, submitted.challenge_id)
        needs.advance_deadlines(now=challenge.deadline)
        _decide(user(people.manager), submitted.proposal_id, outcome)
        db.session.expire_all()
        assert _count(Decision) == 1
        challenge = db.session.get(Challenge, submitted.challenge_id)
        assert challenge.status == Status.CLOSED
        [refund] = db.session.scalars(select(Payment).where(Payment.kind == PaymentKind.REFUND))
        assert (refund.amount, refund.status) == (unspent, PaymentStatus.FAILED)
        [reservation] = db.session.scalars(select(Transfer).where(Transfer.code == "REFUND"))
        assert (reservation.amount, reservation.status) == (unspent, "voided")
        assert reservation.key == f"payment:{refund.id}"
        assert escrow_available(challenge) == unspent
        [alert] = db.session.scalars(
            select(Notification).where(Notification.kind == "refund_failed")
        )
        assert alert.user_id == admin.id
        assert "not paid through Stripe" in alert.body
        assert ledger.verify(db.session) == []
    assert stripe_server.posts("/v1/refunds") == []
