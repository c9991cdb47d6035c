"""The judging JSON API: the whole flow from a new proposal to a solver's earnings, reviews,
decisions with feedback, integer-only money, an idempotent award, awards and closing out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from ledger import Journal, utcnow
from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.judging.models import Award
from tests.proposals.conftest import PROPOSAL, member_id
from tests.proposals.test_api import API, PARTNER, auth, user_id

SCORES = [
    {"criterion": "Feasibility", "score": 8, "comment": "A pilot line exists."},
    {"criterion": "Impact", "score": 5, "comment": "Narrow market."},
]
AWARD = {"outcome": "award", "prize_rank": 1, "feedback": "Strong pilot data; let's build it."}


def journals(app: Flask, key: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Journal.id)).where(Journal.key == key))


def assign_and_review(app, client, people, proposal_id: int, scores=SCORES):
    manager = auth(app, people.manager)
    assigned = client.post(
        f"{API}/proposals/{proposal_id}/reviewers",
        json={"reviewer_id": user_id(app, people.reviewer)},
        headers=manager,
    )
    assert assigned.status_code == 201, assigned.get_json()
    return client.put(
        f"{API}/proposals/{proposal_id}/reviews/mine",
        json={"scores": scores},
        headers=auth(app, people.reviewer),
    )


def test_the_whole_flow_from_draft_to_earnings_through_the_api(app, client, people, need):
    lead, partner = auth(app, people.solver), auth(app, PARTNER)
    manager, reviewer = auth(app, people.manager), auth(app, people.reviewer)

    # The lead writes a draft and invites the partner, who joins.
    pid = client.post(f"{API}/challenges/{need}/proposals", json=PROPOSAL, headers=lead).get_json()[
        "id"
    ]
    token = client.post(
        f"{API}/proposals/{pid}/team", json={"email": PARTNER}, headers=lead
    ).get_json()["join_token"]
    assert (
        client.post(
            f"{API}/team-invitations/accept", json={"token": token}, headers=partner
        ).status_code
        == 200
    )
    # 60/40, confirmed by the partner; submitted by the lead.
    shares = [
        {"member_id": member_id(app, pid, people.solver), "share_bp": 6000},
        {"member_id": member_id(app, pid, PARTNER), "share_bp": 4000},
    ]
    team = client.put(f"{API}/proposals/{pid}/team/split", json={"shares": shares}, headers=lead)
    version = team.get_json()["split_version"]
    confirmed = client.post(
        f"{API}/proposals/{pid}/team/confirm", json={"version": version}, headers=partner
    )
    assert confirmed.get_json()["split_confirmed"] is True
    assert client.post(f"{API}/proposals/{pid}/submit", headers=lead).status_code == 200

    # The manager assigns a reviewer, who scores it: 8 x 60 % + 5 x 40 % = 6.80.
    review = assign_and_review(app, client, people, pid)
    assert review.status_code == 200, review.get_json()
    assert review.get_json()["weighted_centi"] == 680
    assert [s["weight"] for s in review.get_json()["scores"]] == [60, 40]
    reviews = client.get(f"{API}/proposals/{pid}/reviews", headers=manager).get_json()
    assert [r["reviewer_id"] for r in reviews] == [user_id(app, people.reviewer)]
    board = client.get(f"{API}/challenges/{need}/scoreboard", headers=reviewer).get_json()
    assert board["next_cursor"] is None
    board = board["items"]
    assert [(s["proposal_id"], s["mean_centi"], s["reviews"], s["outcome"]) for s in board] == [
        (pid, 680, 1, None)
    ]
    listed = client.put(f"{API}/proposals/{pid}/shortlist", json={"shortlisted": True},
                        headers=manager)  # fmt: skip
    assert listed.get_json() == {"proposal_id": pid, "shortlisted": True}
    assert client.get(f"{API}/proposals/{pid}/decision", headers=lead).status_code == 404

    # The manager awards the first prize: 10,000.00 USD, split 60/40.
    decided = client.post(f"{API}/proposals/{pid}/decision", json=AWARD, headers=manager)
    assert decided.status_code == 201, decided.get_json()
    decision = decided.get_json()
    assert (decision["outcome"], decision["feedback"]) == ("award", AWARD["feedback"])
    award = decision["award"]
    lead_id, partner_id = user_id(app, people.solver), user_id(app, PARTNER)
    assert (award["amount"], award["fee"], award["currency"]) == (1_000_000, 100_000, "USD")
    assert award["shares"] == {str(lead_id): 600_000, str(partner_id): 400_000}

    # The team reads the decision; the split is locked; earnings are on the solver's home.
    assert client.get(f"{API}/proposals/{pid}/decision", headers=partner).get_json() == decision
    assert client.get(f"{API}/proposals/{pid}/team", headers=lead).get_json()["locked"] is True
    home = client.get(f"{API}/me/proposals", headers=partner).get_json()
    assert home["owed"] == {"USD": 400_000}
    (mine,) = home["awards"]
    assert (mine["id"], mine["my_part"], mine["amount"]) == (award["id"], 400_000, 1_000_000)
    assert [d["proposal_id"] for d in home["decisions"]] == [pid]
    assert home["decisions"][0]["award"]["id"] == award["id"]
    assert client.get(f"{API}/me/proposals", headers=lead).get_json()["owed"] == {"USD": 600_000}

    awards = client.get(f"{API}/challenges/{need}/awards", headers=reviewer).get_json()
    assert [a["id"] for a in awards] == [award["id"]]
    assert client.get(f"{API}/challenges/{need}/awards", headers=lead).status_code == 403
    board = client.get(f"{API}/challenges/{need}/scoreboard", headers=manager).get_json()["items"]
    assert (board[0]["outcome"], board[0]["prize_rank"], board[0]["shortlisted"]) == (
        "award",
        1,
        True,
    )


def test_the_same_award_sent_twice_gives_one_award_and_one_journal(app, client, people, submitted):
    url = f"{API}/proposals/{submitted.proposal_id}/decision"
    manager = auth(app, people.manager)
    first = client.post(url, json=AWARD, headers=manager)
    second = client.post(url, json=AWARD, headers=manager)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json() == second.get_json()
    assert first.get_json()["award"]["id"] == second.get_json()["award"]["id"]
    assert journals(app, f"award:proposal:{submitted.proposal_id}") == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(Award.id))) == 1
    other = client.post(url, json={**AWARD, "prize_rank": 2}, headers=manager)
    assert other.status_code == 409
    decline = client.post(url, json={"outcome": "decline", "feedback": "No."}, headers=manager)
    assert decline.status_code == 409


def test_a_reviewer_may_not_award(app, client, people, submitted):
    response = client.post(
        f"{API}/proposals/{submitted.proposal_id}/decision",
        json=AWARD,
        headers=auth(app, people.reviewer),
    )
    assert response.status_code == 403
    assert response.get_json()["title"] == "Forbidden"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"feedback": ""}, "feedback"),
        ({"feedback": "   "}, "feedback"),
        ({"amount": 2.5}, "amount"),
        ({"amount": "2500"}, "amount"),
        ({"amount": 0}, "amount"),
        ({"prize_rank": 1.0}, "prize_rank"),
        ({"prize_rank": None}, "prize_rank"),
        ({"prize_rank": 3}, "prize_rank"),
        ({"amount": 400_000}, "amount"),  # the terms allow no partial awards
        ({"outcome": "maybe"}, "outcome"),
    ],
)
def test_a_bad_decision_is_a_422_with_field_errors(app, client, people, submitted, changes, field):
    response = client.post(
        f"{API}/proposals/{submitted.proposal_id}/decision",
        json={**AWARD, **changes},
        headers=auth(app, people.manager),
    )
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["status"] == 422 and field in problem["errors"]
    assert journals(app, f"award:proposal:{submitted.proposal_id}") == 0


def test_a_decline_takes_no_prize(app, client, people, submitted):
    response = client.post(
        f"{API}/proposals/{submitted.proposal_id}/decision",
        json={"outcome": "decline", "feedback": "Too early.", "amount": 5},
        headers=auth(app, people.manager),
    )
    assert response.status_code == 422 and "amount" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "scores, field",
    [
        ([SCORES[0], {**SCORES[1], "score": 11}], "scores"),
        ([SCORES[0], {**SCORES[1], "score": 7.5}], "scores"),
        ([SCORES[0], {**SCORES[1], "comment": ""}], "scores"),
        ([SCORES[0]], "scores"),
        ([SCORES[0], {**SCORES[1], "criterion": "Elegance"}], "scores"),
    ],
)
def test_a_bad_review_is_a_422_with_field_errors(app, client, people, submitted, scores, field):
    response = assign_and_review(app, client, people, submitted.proposal_id, scores)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]


def test_a_score_of_11_names_the_entry_and_the_field(app, client, people, submitted):
    response = assign_and_review(
        app, client, people, submitted.proposal_id, [SCORES[0], {**SCORES[1], "score": 11}]
    )
    assert set(response.get_json()["errors"]["scores"]["1"]) == {"score"}


def test_only_assigned_reviewers_score_and_only_editors_assign(app, client, people, submitted):
    pid = submitted.proposal_id
    unassigned = client.put(
        f"{API}/proposals/{pid}/reviews/mine",
        json={"scores": SCORES},
        headers=auth(app, people.owner),
    )
    assert unassigned.status_code == 403
    by_reviewer = client.post(
        f"{API}/proposals/{pid}/reviewers",
        json={"reviewer_id": user_id(app, people.reviewer)},
        headers=auth(app, people.reviewer),
    )
    assert by_reviewer.status_code == 403
    finance = client.post(
        f"{API}/proposals/{pid}/reviewers",
        json={"reviewer_id": user_id(app, people.finance)},
        headers=auth(app, people.manager),
    )
    assert finance.status_code == 422 and "reviewer_id" in finance.get_json()["errors"]
    team_reads = client.get(f"{API}/proposals/{pid}/reviews", headers=auth(app, people.solver))
    assert team_reads.status_code == 403
    outsider = client.get(f"{API}/proposals/{pid}/reviews", headers=auth(app, people.rival))
    assert outsider.status_code == 404


def test_a_need_closes_once_every_proposal_has_an_answer(app, client, people, submitted):
    manager = auth(app, people.manager)
    url = f"{API}/challenges/{submitted.challenge_id}/close"
    assert client.post(url, headers=manager).status_code == 409  # open until its deadline
    with app.app_context():
        challenge = db.session.get(Challenge, submitted.challenge_id)
        challenge.deadline = utcnow() - timedelta(minutes=1)
        db.session.commit()
    waiting = client.post(url, headers=manager)
    assert waiting.status_code == 409 and "wait for a decision" in waiting.get_json()["detail"]
    declined = client.post(
        f"{API}/proposals/{submitted.proposal_id}/decision",
        json={"outcome": "decline", "feedback": "Not for us, thank you."},
        headers=manager,
    )
    assert declined.status_code == 201 and declined.get_json()["award"] is None
    assert client.post(url, headers=auth(app, people.reviewer)).status_code == 403
    closed = client.post(url, headers=manager)
    assert closed.status_code == 200, closed.get_json()
    assert closed.get_json()["status"] == "closed"
    assert client.post(url, headers=manager).status_code == 409
