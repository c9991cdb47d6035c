"""The judging pages: the scoreboard, the judging panel of a proposal and its forms (assign,
score, shortlist, award, decline) and closing a need, through the HTML forms."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import render_template_string
from sqlalchemy import func, select

import ledger
from ledger import Account, Journal, Transfer, utcnow
from marketplace.accounts.models import Organization
from marketplace.accounts.sessions import start_session
from marketplace.challenges import services as needs
from marketplace.challenges.models import Challenge, Status
from marketplace.extensions import db
from marketplace.judging import reviews
from marketplace.judging.models import Award, Decision, Review, ReviewAssignment
from marketplace.proposals import services as proposal_services
from marketplace.proposals.models import Proposal
from tests.challenges.conftest import create, fund_and_open, user
from tests.factories import make_need, make_terms
from tests.judging.test_rules import refuse_refund_reservations
from tests.proposals.conftest import accept, draft_proposal

SCORES = {
    "criterion-0": "Feasibility", "score-0": "8", "comment-0": "A pilot line exists.",
    "criterion-1": "Impact", "score-1": "5", "comment-1": "Narrow market.",
}  # fmt: skip


def flashes(client) -> list[tuple[str, str]]:
    """The flash messages waiting for the next page, taken off the session."""
    with client.session_transaction() as session:
        return session.pop("_flashes", [])


def flashed(client, category: str) -> str:
    return " ".join(message for kind, message in flashes(client) if kind == category)


def as_(client, auth, email: str) -> None:
    auth.logout()
    auth.login(email)
    flashes(client)


def assign(app, people, proposal_id: int, email: str) -> None:  # noqa: F811
    with app.app_context():
        reviews.assign_reviewer(user(people.manager), proposal_id, user(email).id)


def balance(app, code: str) -> int:
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.code == code))
        return 0 if account is None else account.credits_posted - account.debits_posted


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)))


def panel_html(app, email: str, proposal_id: int) -> str:
    """The judging panel as the proposal page includes it, rendered for ``email``."""
    with app.test_request_context():
        start_session(user(email))
        proposal = db.session.get(Proposal, proposal_id)
        return render_template_string(
            '{% include "judging/_proposal_panel.html" ignore missing %}',
            proposal=proposal,
            side=None,
            role=None,
        )


# --- the scoreboard -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "manager", "reviewer"])
def test_the_board_lists_the_proposals_for_the_seekers_judges(client, auth, people, submitted, who):
    auth.login(getattr(people, who))
    page = client.get(f"/challenges/{submitted.challenge_id}/judging")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Cellulose nanofibre liner" in html
    assert f'href="/proposals/{submitted.proposal_id}"' in html
    assert "10,000.00 USD" in html and "5,000.00 USD" in html  # the prizes, none awarded
    assert ('data-test="close"' in html) == (who != "reviewer")


@pytest.mark.parametrize("who", ["finance", "other_solver", "rival", "solver"])
def test_the_board_is_refused_to_everyone_else(client, auth, people, submitted, who):
    auth.login(getattr(people, who))
    page = client.get(f"/challenges/{submitted.challenge_id}/judging")
    assert page.status_code == 403
    assert "Cellulose nanofibre liner" not in page.get_data(as_text=True)


def test_a_need_nobody_may_see_has_no_board(app, client, auth, people):
    draft = create(app, people)  # a draft: Acme's own business
    auth.login(people.rival)
    assert client.get(f"/challenges/{draft}/judging").status_code == 404
    auth.logout()
    assert client.get(f"/challenges/{draft}/judging").status_code == 302  # sign in first


# --- reviewers and scores -----------------------------------------------------------------


def test_a_manager_assigns_and_the_reviewer_scores_through_the_forms(
    app, client, auth, people, submitted
):
    pid = submitted.proposal_id
    with app.app_context():
        reviewer_id = user(people.reviewer).id
    auth.login(people.manager)
    assert 'data-test="reviewer-select"' in panel_html(app, people.manager, pid)
    page = client.post(f"/proposals/{pid}/judging/reviewers", data={"reviewer_id": reviewer_id})
    assert page.status_code == 302
    assert page.headers["Location"].endswith(f"/proposals/{pid}#judging")
    assert "Reviewer assigned" in flashed(client, "success")
    assert count(app, ReviewAssignment) == 1

    as_(client, auth, people.reviewer)
    form = panel_html(app, people.reviewer, pid)
    assert 'name="score-0"' in form and 'name="comment-1"' in form
    page = client.post(f"/proposals/{pid}/judging/review", data=SCORES)
    assert page.status_code == 302
    assert "scores are saved" in flashed(client, "success")

    board = client.get(f"/challenges/{submitted.challenge_id}/judging").get_data(as_text=True)
    assert ">6.80<" in board  # 8 x 60 % + 5 x 40 %
    panel = panel_html(app, people.manager, pid)
    assert "6.80" in panel and "A pilot line exists." in panel and "Narrow market." in panel

    # Scoring again replaces the reviewer's scores; a second reviewer brings a spread.
    assign(app, people, pid, people.owner)
    client.post(f"/proposals/{pid}/judging/review", data={**SCORES, "score-1": "10"})
    as_(client, auth, people.owner)
    client.post(f"/proposals/{pid}/judging/review", data={**SCORES, "score-0": "10"})
    assert count(app, Review) == 2
    board = client.get(f"/challenges/{submitted.challenge_id}/judging").get_data(as_text=True)
    # 8.80 (8, 10) and 8.00 (10, 5): mean 8.40, spread 0.80
    assert ">8.40<" in board and ">0.80<" in board


def test_a_reviewer_who_is_not_assigned_is_refused(app, client, auth, people, submitted):
    auth.login(people.reviewer)
    assert "score-0" not in panel_html(app, people.reviewer, submitted.proposal_id)
    page = client.post(f"/proposals/{submitted.proposal_id}/judging/review", data=SCORES)
    assert page.status_code == 403
    assert count(app, Review) == 0


def test_only_owners_and_managers_assign(app, client, auth, people, submitted):
    with app.app_context():
        reviewer_id = user(people.reviewer).id
        finance_id = user(people.finance).id
    auth.login(people.reviewer)
    page = client.post(
        f"/proposals/{submitted.proposal_id}/judging/reviewers", data={"reviewer_id": reviewer_id}
    )
    assert page.status_code == 403
    as_(client, auth, people.rival)
    page = client.post(
        f"/proposals/{submitted.proposal_id}/judging/reviewers", data={"reviewer_id": reviewer_id}
    )
    assert page.status_code == 404
    as_(client, auth, people.manager)
    for bad in (finance_id, "someone", ""):
        page = client.post(
            f"/proposals/{submitted.proposal_id}/judging/reviewers", data={"reviewer_id": bad}
        )
        assert page.status_code == 302
        message = flashed(client, "error")
        assert "Choose" in message
    assert count(app, ReviewAssignment) == 0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"comment-1": "  "}, "Impact: Write a comment"),
        ({"score-0": "eight"}, "Feasibility: Score from 0 to 10."),
        ({"score-0": "7.5"}, "Feasibility: Score from 0 to 10."),
        ({"score-1": "11"}, "Impact: Score from 0 to 10."),
        ({"score-1": ""}, "Impact: Score from 0 to 10."),
        ({"criterion-1": "Beauty"}, "Score each criterion once"),
    ],
)
def test_a_bad_score_is_refused_with_a_message(
    app, client, auth, people, submitted, change, message
):
    assign(app, people, submitted.proposal_id, people.reviewer)
    auth.login(people.reviewer)
    page = client.post(
        f"/proposals/{submitted.proposal_id}/judging/review", data={**SCORES, **change}
    )
    assert page.status_code == 302
    assert message in flashed(client, "error")
    assert count(app, Review) == 0


# --- shortlist ----------------------------------------------------------------------------


def test_the_shortlist_toggles_from_the_board(app, client, auth, people, submitted):
    auth.login(people.manager)
    url = f"/proposals/{submitted.proposal_id}/judging/shortlist"
    page = client.post(url, data={"shortlisted": "1", "back": "board"})
    assert page.headers["Location"].endswith(f"/challenges/{submitted.challenge_id}/judging")
    assert "Added to the shortlist" in flashed(client, "success")
    with app.app_context():
        assert db.session.get(Proposal, submitted.proposal_id).shortlisted
    assert "★ Shortlisted" in panel_html(app, people.manager, submitted.proposal_id)
    client.post(url, data={"shortlisted": "0"})
    with app.app_context():
        assert not db.session.get(Proposal, submitted.proposal_id).shortlisted
    as_(client, auth, people.reviewer)
    assert client.post(url, data={"shortlisted": "1"}).status_code == 403


# --- decisions ----------------------------------------------------------------------------


def test_a_manager_awards_prize_one_through_the_form(app, client, auth, people, submitted):
    auth.login(people.manager)
    html = panel_html(app, people.manager, submitted.proposal_id)
    assert 'data-test="prize-rank"' in html and 'name="amount"' not in html  # awarded in full
    page = client.post(
        f"/proposals/{submitted.proposal_id}/judging/award",
        data={"prize_rank": "1", "feedback": "Brilliant: we will pilot it."},
    )
    assert page.status_code == 302
    assert "Prize 1 awarded" in flashed(client, "success")
    with app.app_context():
        lead, partner = user(submitted.lead).id, user(submitted.partner).id
        award = db.session.scalar(select(Award))
        assert (award.prize_rank, award.amount, award.fee) == (1, 1_000_000, 100_000)
        assert (
            db.session.get(Decision, award.decision_id).feedback == "Brilliant: we will pilot it."
        )
        assert db.session.get(Journal, award.journal_id) is not None
        assert ledger.verify(db.session) == []
    assert balance(app, f"liability:payable:solver:{lead}:usd") == 600_000
    assert balance(app, f"liability:payable:solver:{partner}:usd") == 400_000
    assert balance(app, "revenue:fees:usd") == 100_000

    board = client.get(f"/challenges/{submitted.challenge_id}/judging").get_data(as_text=True)
    assert "Prize 1: 10,000.00 USD" in board  # the decision column
    assert "0.00 USD" in board  # nothing left of prize 1
    panel = panel_html(app, people.manager, submitted.proposal_id)
    assert "Awarded prize 1" in panel
    assert 'data-test="award"' not in panel


@pytest.mark.parametrize(
    "data, message",
    [
        ({"prize_rank": "1", "feedback": "  "}, "Write feedback for the team"),
        ({"prize_rank": "1"}, "Write feedback for the team"),
        ({"prize_rank": "7", "feedback": "Great"}, "Choose a prize from 1 to 2."),
        ({"prize_rank": "first", "feedback": "Great"}, "Choose a prize from 1 to 2."),
        ({"prize_rank": "1", "feedback": "Great", "amount": "9,000.00"}, "partial awards"),
        ({"prize_rank": "1", "feedback": "Great", "amount": "lots"}, "Type the amount in USD"),
    ],
)
def test_a_bad_award_is_refused_and_writes_nothing(
    app, client, auth, people, submitted, data, message
):
    auth.login(people.manager)
    page = client.post(f"/proposals/{submitted.proposal_id}/judging/award", data=data)
    assert page.status_code == 302
    assert message in flashed(client, "error")
    assert count(app, Decision) == 0 and count(app, Award) == 0
    with app.app_context():
        assert (
            db.session.scalar(select(func.count(Journal.id)).where(Journal.key.like("award:%")))
            == 0
        )
        assert db.session.get(Proposal, submitted.proposal_id).status == "submitted"


@pytest.mark.parametrize("who", ["reviewer", "finance"])
def test_only_owners_and_managers_decide(app, client, auth, people, submitted, who):
    auth.login(getattr(people, who))
    url = f"/proposals/{submitted.proposal_id}/judging"
    expected = 403 if who == "reviewer" else 404  # finance members do not read proposals
    assert (
        client.post(f"{url}/award", data={"prize_rank": "1", "feedback": "Mine"}).status_code
        == expected
    )
    assert client.post(f"{url}/decline", data={"feedback": "No"}).status_code == expected
    assert count(app, Decision) == 0
    if who == "reviewer":
        assert 'data-test="award"' not in panel_html(app, people.reviewer, submitted.proposal_id)


def test_a_decline_carries_feedback(app, client, auth, people, submitted):
    auth.login(people.manager)
    url = f"/proposals/{submitted.proposal_id}/judging/decline"
    client.post(url, data={"feedback": ""})
    assert "Write feedback for the team" in flashed(client, "error")
    assert count(app, Decision) == 0
    client.post(url, data={"feedback": "Too costly at our volumes."})
    assert "Declined" in flashed(client, "success")
    with app.app_context():
        decision = db.session.scalar(select(Decision))
        assert (decision.outcome, decision.feedback) == ("decline", "Too costly at our volumes.")
        assert db.session.get(Proposal, submitted.proposal_id).status == "declined"
    board = client.get(f"/challenges/{submitted.challenge_id}/judging").get_data(as_text=True)
    assert "Declined" in board and 'data-test="answered">1 (100 %)' in board


def test_partial_awards_take_an_amount_in_major_units(app, client, auth, people):
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        challenge_id = needs.create_challenge(
            user(people.manager), acme, make_need(), make_terms(partial_awards=True)
        ).id
    fund_and_open(app, people, challenge_id)
    accept(app, people.solver, challenge_id)
    proposal_id = draft_proposal(app, people.solver, challenge_id)
    with app.app_context():
        proposal_services.submit_proposal(user(people.solver), proposal_id)
    auth.login(people.manager)
    assert 'name="amount"' in panel_html(app, people.manager, proposal_id)
    url = f"/proposals/{proposal_id}/judging/award"
    client.post(url, data={"prize_rank": "1", "feedback": "Shared", "amount": "6,000.001"})
    assert "Type the amount in USD, like 2,500.00" in flashed(client, "error")
    client.post(url, data={"prize_rank": "1", "feedback": "Shared", "amount": "6,000.50"})
    assert "Prize 1 awarded" in flashed(client, "success")
    with app.app_context():
        assert db.session.scalar(select(Award.amount)) == 600_050
        solver = user(people.solver).id
    assert balance(app, f"liability:payable:solver:{solver}:usd") == 600_050
    board = client.get(f"/challenges/{challenge_id}/judging").get_data(as_text=True)
    assert "3,999.50 USD" in board  # left of prize 1


# --- closing ------------------------------------------------------------------------------


def refunds(app, challenge_id: int) -> list[int]:
    with app.app_context():
        escrow = db.session.scalar(
            select(Account).where(Account.code == f"liability:escrow:challenge:{challenge_id}")
        )
        return list(
            db.session.scalars(
                select(Transfer.amount).where(
                    Transfer.code == "REFUND", Transfer.debit_account_id == escrow.id
                )
            )
        )


def test_close_is_refused_while_a_proposal_waits_and_the_last_answer_closes(
    app, client, auth, people, submitted
):
    cid = submitted.challenge_id
    auth.login(people.manager)
    client.post(f"/challenges/{cid}/judging/close")
    assert "open until its deadline" in flashed(client, "error")
    with app.app_context():
        needs.advance_deadlines(now=db.session.get(Challenge, cid).deadline)
    page = client.post(f"/challenges/{cid}/judging/close")
    assert page.headers["Location"].endswith(f"/challenges/{cid}/judging")
    assert "1 submitted proposal still wait for a decision" in flashed(client, "error")
    with app.app_context():
        assert db.session.get(Challenge, cid).status == Status.JUDGING
    assert refunds(app, cid) == []

    client.post(
        f"/proposals/{submitted.proposal_id}/judging/award",
        data={"prize_rank": "1", "feedback": "Brilliant"},
    )
    assert "the need is closed" in flashed(client, "success")
    with app.app_context():
        assert db.session.get(Challenge, cid).status == Status.CLOSED
    # 1,650,000 funded; 1,000,000 awarded and 100,000 fee; 550,000 went back.
    assert refunds(app, cid) == [550_000]
    assert balance(app, f"liability:escrow:challenge:{cid}") == 0
    board = client.get(f"/challenges/{cid}/judging").get_data(as_text=True)
    assert 'data-test="close"' not in board


def test_a_manager_closes_once_every_proposal_has_an_answer(app, client, auth, people, submitted):
    cid = submitted.challenge_id
    with app.app_context():  # the deadline passed; the need was not moved to judging yet
        challenge = db.session.get(Challenge, cid)
        challenge.deadline = utcnow() - timedelta(minutes=5)
        db.session.commit()
    auth.login(people.manager)
    client.post(f"/challenges/{cid}/judging/close")
    assert "1 submitted proposal still wait" in flashed(client, "error")
    client.post(
        f"/proposals/{submitted.proposal_id}/judging/decline", data={"feedback": "Not for us."}
    )
    flashes(client)
    as_(client, auth, people.reviewer)
    assert client.post(f"/challenges/{cid}/judging/close").status_code == 403
    as_(client, auth, people.manager)
    client.post(f"/challenges/{cid}/judging/close")
    assert "The need is closed" in flashed(client, "success")
    with app.app_context():
        assert db.session.get(Challenge, cid).status == Status.CLOSED
        assert ledger.verify(db.session) == []
    assert refunds(app, cid) == [1_650_000]
    assert balance(app, f"liability:escrow:challenge:{cid}") == 0
    client.post(f"/challenges/{cid}/judging/close")
    assert "A closed need cannot be closed." in flashed(client, "error")


def award_the_last_answer(app, client, auth, people, submitted) -> int:
    """The need reaches judging and its manager awards its only proposal through the page;
    returns the need's id."""
    cid = submitted.challenge_id
    with app.app_context():
        needs.advance_deadlines(now=db.session.get(Challenge, cid).deadline)
    auth.login(people.manager)
    client.post(
        f"/proposals/{submitted.proposal_id}/judging/award",
        data={"prize_rank": "1", "feedback": "Brilliant"},
    )
    return cid


def test_a_last_answer_whose_close_out_fails_saves_nothing_and_says_why(
    app, client, auth, people, submitted, monkeypatch
):
    """The ledger refuses the close-out's refund reservation: the award that would close the
    need is refused with the reason, and nothing of it is kept."""
    refuse_refund_reservations(monkeypatch)
    cid = award_the_last_answer(app, client, auth, people, submitted)
    message = flashed(client, "error")
    assert "would be overdrawn" in message and "Nothing was saved" in message
    assert (count(app, Decision), count(app, Award)) == (0, 0)
    assert refunds(app, cid) == []
    assert balance(app, f"liability:escrow:challenge:{cid}") == 1_650_000
    with app.app_context():
        assert db.session.get(Challenge, cid).status == Status.JUDGING


def test_a_last_answer_stands_when_the_provider_refuses_its_refund(
    app, client, auth, people, submitted, stripe_app
):
    """The escrow was funded in the sandbox, so Stripe cannot refund it. The refund is asked
    after the award's commit: the award and the close-out stand, and the reservation is
    voided, so the unspent escrow is still held."""
    cid = award_the_last_answer(app, client, auth, people, submitted)
    assert "the need is closed" in flashed(client, "success")
    assert (count(app, Decision), count(app, Award)) == (1, 1)
    assert balance(app, f"liability:escrow:challenge:{cid}") == 550_000
    with app.app_context():
        assert db.session.get(Challenge, cid).status == Status.CLOSED
        [reservation] = db.session.scalars(select(Transfer).where(Transfer.code == "REFUND"))
        assert (reservation.amount, reservation.status) == (550_000, "voided")
        assert ledger.verify(db.session) == []


# --- the panel on the proposal page ---------------------------------------------------------


def test_the_panel_shows_only_to_the_seekers_judges(app, people, submitted):
    for email in (people.solver, submitted.partner, people.finance, people.rival):
        assert 'data-test="judging-panel"' not in panel_html(app, email, submitted.proposal_id)
    for email in (people.owner, people.manager, people.reviewer):
        assert 'data-test="judging-panel"' in panel_html(app, email, submitted.proposal_id)


def test_the_proposal_page_includes_the_panel(app, client, auth, people, submitted):
    pid = submitted.proposal_id
    assign(app, people, pid, people.reviewer)
    auth.login(people.reviewer)
    page = client.get(f"/proposals/{pid}").get_data(as_text=True)
    assert 'data-test="judging-panel"' in page and 'name="score-0"' in page
    assert 'data-test="award"' not in page
    client.post(f"/proposals/{pid}/judging/review", data=SCORES)
    page = client.get(f"/proposals/{pid}#judging")
    assert page.status_code == 200
    assert "Your scores are saved." in page.get_data(as_text=True)  # the flash, shown there
    as_(client, auth, people.manager)
    page = client.get(f"/proposals/{pid}").get_data(as_text=True)
    assert 'data-test="judging-panel"' in page and "6.80" in page and "Narrow market." in page
    assert 'data-test="award"' in page and 'data-test="decline"' in page
    client.post(f"/proposals/{pid}/judging/award", data={"prize_rank": "1", "feedback": "Yes!"})
    page = client.get(f"/proposals/{pid}").get_data(as_text=True)
    assert "Prize 1 awarded" in page and "Awarded prize 1" in page
    as_(client, auth, submitted.lead)
    page = client.get(f"/proposals/{pid}").get_data(as_text=True)
    assert "Yes!" in page  # the team reads the feedback on its own page
    assert 'data-test="judging-panel"' not in page and "Narrow market." not in page
