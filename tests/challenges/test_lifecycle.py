"""A need's life: draft, funded escrow, open, amendments, deadline, cancel and refund."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

import ledger
from ledger import Transfer, utcnow
from marketplace.challenges import services
from marketplace.challenges.models import Challenge, Status
from marketplace.errors import Conflict, Forbidden, Invalid
from marketplace.extensions import db
from marketplace.notifications.models import Notification
from marketplace.payments.services import escrow_available, start_funding
from tests.challenges.conftest import create, user
from tests.factories import make_need, make_terms


def challenge(challenge_id: int) -> Challenge:
    return db.session.get(Challenge, challenge_id)


@pytest.mark.parametrize("role", ["reviewer", "finance", "solver", "rival"])
def test_only_owners_and_managers_write_needs(app, people, role) -> None:
    with app.app_context():
        acme = db.session.scalar(
            select(services.Organization).where(services.Organization.slug == "acme")
        )
        with pytest.raises(Forbidden):
            services.create_challenge(user(getattr(people, role)), acme, make_need(), make_terms())
        assert db.session.scalar(select(func.count(Challenge.id))) == 0


def test_a_deadline_in_the_past_is_refused(app, people) -> None:
    with app.app_context():
        acme = db.session.scalar(
            select(services.Organization).where(services.Organization.slug == "acme")
        )
        past = make_terms(deadline=utcnow() - timedelta(days=1))
        with pytest.raises(Invalid) as refused:
            services.create_challenge(user(people.manager), acme, make_need(), past)
        assert "deadline" in refused.value.errors


def test_opening_needs_funded_escrow(app, people, draft) -> None:
    with app.app_context(), app.test_request_context():
        manager = user(people.manager)
        with pytest.raises(Conflict, match="Fund the prize pool first"):
            services.open_challenge(manager, challenge(draft))
        payment = start_funding(manager, challenge(draft), 1_000_000)
        assert payment.provider == "sandbox" and payment.status == "settled"
        with pytest.raises(Conflict, match="short"):
            services.open_challenge(manager, challenge(draft))
        start_funding(manager, challenge(draft))  # the rest: 1,650,000 - 1,000,000
        assert escrow_available(challenge(draft)) == make_terms().escrow_required == 1_650_000
        services.open_challenge(manager, challenge(draft))
        assert challenge(draft).status == Status.OPEN
        assert ledger.verify(db.session) == []


@pytest.mark.parametrize("role", ["reviewer", "finance", "solver"])
def test_only_editors_open_and_cancel(app, people, draft, role) -> None:
    with app.app_context(), app.test_request_context():
        start_funding(user(people.manager), challenge(draft))
        actor = user(getattr(people, role))
        for action in (services.open_challenge, services.cancel_challenge):
            with pytest.raises(Exception) as refused:
                action(actor, services.get_visible(user(people.manager), draft))
            assert refused.type.__name__ in ("Forbidden", "NotFound")
        assert challenge(draft).status == Status.DRAFT


def test_funding_is_for_owners_managers_and_finance(app, people, draft) -> None:
    with app.app_context(), app.test_request_context():
        assert start_funding(user(people.finance), challenge(draft), 100).status == "settled"
        with pytest.raises(Forbidden):
            start_funding(user(people.reviewer), challenge(draft), 100)
        assert escrow_available(challenge(draft)) == 100


def test_deadline_passing_moves_open_to_judging(app, people, opened, runner) -> None:
    with app.app_context():
        db.session.execute(
            update(Challenge)
            .where(Challenge.id == opened)
            .values(deadline=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()
    result = runner.invoke(args=["challenges", "tick"])
    assert "1 need(s) moved to judging" in result.output
    with app.app_context():
        assert challenge(opened).status == Status.JUDGING
    assert "0 need(s)" in runner.invoke(args=["challenges", "tick"]).output


def test_cancelling_returns_the_escrow(app, people, opened) -> None:
    with app.app_context(), app.test_request_context():
        services.cancel_challenge(user(people.owner), challenge(opened))
        assert challenge(opened).status == Status.CANCELLED
        assert escrow_available(challenge(opened)) == 0
        codes = db.session.scalars(select(Transfer.code).order_by(Transfer.id)).all()
        assert codes == ["FUND_ESCROW", "REFUND"]
        with pytest.raises(Conflict):
            services.cancel_challenge(user(people.owner), challenge(opened))


def test_amendment_after_opening_names_each_worsened_field(app, people, opened) -> None:
    with app.app_context():
        old = challenge(opened).current_terms.terms
        worse = make_terms(
            deadline=old.deadline - timedelta(days=1),
            value_share_bp=100,
            ip_terms="assignment_on_payment",
        )
        with pytest.raises(Invalid) as refused:
            services.amend_terms(user(people.manager), challenge(opened), worse)
        assert set(refused.value.errors) == {"deadline", "value_share_bp", "ip_terms"}
        assert challenge(opened).terms_version == 1


def test_more_prize_money_must_be_funded_first(app, people, opened) -> None:
    with app.app_context(), app.test_request_context():
        old = challenge(opened).current_terms.terms
        richer = make_terms(prizes=(1_500_000, 500_000), deadline=old.deadline)
        with pytest.raises(Invalid) as refused:
            services.amend_terms(user(people.manager), challenge(opened), richer)
        assert "prizes" in refused.value.errors
        with pytest.raises(Invalid) as beyond:  # escrow holds what the current terms need
            start_funding(user(people.manager), challenge(opened), 550_000)
        assert "give its prize total" in beyond.value.errors["amount"][0]
        start_funding(
            user(people.manager), challenge(opened), 550_000, amendment_prize_total=2_000_000
        )
        amendment = services.amend_terms(
            user(people.manager), challenge(opened), richer, "Bigger first prize"
        )
        assert amendment.version.version == 2
        assert ("prizes", [1_000_000, 500_000], [1_500_000, 500_000]) in amendment.diff
        assert challenge(opened).prize_total == 2_000_000


def test_participants_are_notified_of_an_amendment(app, people, opened) -> None:
    with app.app_context():
        services.accept_terms(user(people.solver), opened)
        later = challenge(opened).current_terms.terms.deadline + timedelta(days=7)
        services.amend_terms(
            user(people.manager), challenge(opened), make_terms(deadline=later), "More time"
        )
        note = db.session.scalar(select(Notification).where(Notification.kind == "terms_amended"))
        assert note.user_id == user(people.solver).id
        assert note.link == f"/challenges/{opened}/terms/2"


def test_a_draft_may_change_anything_and_only_drafts_are_rewritten(app, people, draft) -> None:
    with app.app_context(), app.test_request_context():
        manager = user(people.manager)
        services.amend_terms(manager, challenge(draft), make_terms(prizes=(10,)))
        assert challenge(draft).prize_total == 10
        services.update_need(manager, challenge(draft), {"title": "New title"})
        assert challenge(draft).title == "New title"
        start_funding(manager, challenge(draft))
        services.open_challenge(manager, challenge(draft))
        with pytest.raises(Conflict):
            services.update_need(manager, challenge(draft), {"title": "Sneaky rewrite"})


def test_accepting_terms_records_the_exact_version(app, people, opened) -> None:
    with app.app_context():
        acceptance = services.accept_terms(user(people.solver), opened)
        assert acceptance.sha256 == challenge(opened).current_terms.sha256
        assert services.accept_terms(user(people.solver), opened).id == acceptance.id
        assert services.may_see_confidential(user(people.solver), challenge(opened))
        assert not services.may_see_confidential(user(people.other_solver), challenge(opened))


def test_eligibility_is_enforced_on_acceptance(app, people, opened) -> None:
    with app.app_context():
        with pytest.raises(Conflict, match="Members of the seeking organization"):
            services.accept_terms(user(people.reviewer), opened)
        solver = user(people.solver)
        solver.country = "KP"
        db.session.commit()
        with pytest.raises(Conflict, match="your country"):
            services.accept_terms(user(people.solver), opened)


def test_terms_cannot_be_accepted_on_a_draft(app, people) -> None:
    challenge_id = create(app, people)
    with app.app_context():
        with pytest.raises(Exception) as refused:
            services.accept_terms(user(people.solver), challenge_id)
        assert refused.type.__name__ == "NotFound"  # a draft does not exist for outsiders
