"""The proposal lists cost the same number of SQL statements at 5 rows and at 50 (no query per
row), page by keyset, and refuse a bad cursor with a field error (API) or a message (HTML)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ledger import utcnow
from marketplace.extensions import db
from marketplace.judging.models import Decision, Review
from marketplace.proposals.models import MemberStatus, Proposal, ProposalStatus, TeamMember
from tests.challenges.conftest import user
from tests.proposals.test_api import API
from tests.proposals.test_api import auth as token
from tests.sql_writes import statements_during


def grow(app, challenge_id: int, lead: str, reviewer: str, manager: str, total: int) -> None:
    """Submitted proposals of ``lead`` for the need until it has ``total``: each with an
    invited partner, most with a review, one in five declined."""
    with app.app_context():
        lead_user, reviewer_id, manager_id = user(lead), user(reviewer).id, user(manager).id
        have = db.session.scalar(
            select(func.count(Proposal.id)).where(Proposal.challenge_id == challenge_id)
        )
        now = utcnow()
        for n in range(have, total):
            declined = n % 5 == 4
            proposal = Proposal(
                challenge_id=challenge_id,
                lead_id=lead_user.id,
                title=f"Proposal {n}",
                status=ProposalStatus.DECLINED if declined else ProposalStatus.SUBMITTED,
                submitted_at=now - timedelta(minutes=total - n),
            )
            proposal.members = [
                TeamMember(user_id=lead_user.id, email=lead_user.email, is_lead=True,
                           status=MemberStatus.JOINED, share_bp=10_000, confirmed_version=1),
                TeamMember(email=f"partner{n}@example.com", status=MemberStatus.INVITED),
            ]  # fmt: skip
            db.session.add(proposal)
            db.session.flush()
            if n % 3:
                db.session.add(Review(proposal_id=proposal.id, reviewer_id=reviewer_id,
                                      scores=[], weighted_centi=(n * 37) % 1001))  # fmt: skip
            if declined:
                decision = Decision(proposal_id=proposal.id, challenge_id=challenge_id,
                                    outcome="decline", feedback="Thanks.",
                                    decided_by_id=manager_id, response_seconds=60 * n)  # fmt: skip
                db.session.add(decision)
        db.session.commit()


def count_statements(app, client, path: str, headers=None) -> tuple[int, object]:
    client.get(path, headers=headers or {})  # the first request after signing in does more
    with statements_during(app) as seen:
        response = client.get(path, headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return len(seen), response


def rows_shown(response, marker: str) -> int:
    if response.is_json:
        body = response.get_json()
        return len(body["items"] if "items" in body else body["proposals"])
    return response.get_data(as_text=True).count(marker)


PAGES = [
    # (who, path, how a row shows on the page, an API list?)
    ("manager", "/challenges/{need}/judging?per_page=100", 'data-test="standing-', False),
    ("manager", API + "/challenges/{need}/scoreboard?per_page=100", None, True),
    ("reviewer", API + "/challenges/{need}/proposals?per_page=100", None, True),
    ("solver", API + "/challenges/{need}/proposals?per_page=100", None, True),
    ("solver", "/me/proposals?per_page=100", 'data-test="proposal"', False),
    ("solver", API + "/me/proposals?per_page=100", None, True),
]


@pytest.mark.parametrize(("who", "path", "marker", "is_api"), PAGES)
def test_statements_do_not_grow_with_the_rows_shown(
    app, client, auth, people, need, who, path, marker, is_api
):
    email = getattr(people, who)
    headers = token(app, email) if is_api else None
    if not is_api:
        auth.login(email)
    url = path.format(need=need)
    counts = []
    for total in (5, 50):
        grow(app, need, people.solver, people.reviewer, people.manager, total)
        statements, response = count_statements(app, client, url, headers)
        assert rows_shown(response, marker) == total
        counts.append(statements)
    assert counts[0] == counts[1], counts
    assert counts[1] <= 30


def test_the_scoreboard_pages_in_score_order_without_a_row_twice(app, client, people, need):
    grow(app, need, people.solver, people.reviewer, people.manager, 23)
    headers = token(app, people.manager)
    whole = client.get(f"{API}/challenges/{need}/scoreboard?per_page=100", headers=headers)
    expected = [s["proposal_id"] for s in whole.get_json()["items"]]
    means = [s["mean_centi"] for s in whole.get_json()["items"]]
    scored = [m for m in means if m is not None]
    assert scored == sorted(scored, reverse=True) and means[len(scored) :] == [None] * (
        len(means) - len(scored)
    )
    seen, cursor = [], None
    while True:
        query = f"per_page=5&cursor={cursor}" if cursor else "per_page=5"
        page = client.get(f"{API}/challenges/{need}/scoreboard?{query}", headers=headers)
        body = page.get_json()
        assert len(body["items"]) <= 5
        seen += [s["proposal_id"] for s in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected


@pytest.mark.parametrize("total", [0, 5, 6])
def test_page_boundaries(app, client, people, need, total):
    """Exactly per_page rows: one page, no next; per_page + 1: a next page of one row."""
    grow(app, need, people.solver, people.reviewer, people.manager, total)
    headers = token(app, people.reviewer)
    first = client.get(f"{API}/challenges/{need}/proposals?per_page=5", headers=headers)
    body = first.get_json()
    assert len(body["items"]) == min(total, 5)
    if total <= 5:
        assert body["next_cursor"] is None
        return
    after = client.get(
        f"{API}/challenges/{need}/proposals?per_page=5&cursor={body['next_cursor']}",
        headers=headers,
    ).get_json()
    assert len(after["items"]) == 1 and after["next_cursor"] is None
    assert after["items"][0]["id"] not in {p["id"] for p in body["items"]}


@pytest.mark.parametrize(
    "path",
    [
        "/challenges/{need}/scoreboard",
        "/challenges/{need}/proposals",
        "/me/proposals",
    ],
)
@pytest.mark.parametrize(
    "query", ["cursor=nonsense", "cursor=WzEsMiwzXQ", "per_page=0", "per_page=x"]
)
def test_a_bad_cursor_or_page_size_is_a_field_error(app, client, people, need, path, query):
    response = client.get(
        f"{API}{path.format(need=need)}?{query}", headers=token(app, people.manager)
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) <= {"cursor", "per_page"}
    assert response.get_json()["errors"]


@pytest.mark.parametrize("path", ["/challenges/{need}/judging", "/me/proposals"])
def test_a_bad_cursor_on_a_page_is_a_message_above_the_first_page(
    app, client, auth, people, need, path
):
    grow(app, need, people.solver, people.reviewer, people.manager, 3)
    auth.login(people.manager if "judging" in path else people.solver)
    response = client.get(path.format(need=need) + "?cursor=nonsense")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Not a valid cursor" in page
    assert "Proposal 2" in page


def test_the_lists_still_refuse_the_wrong_people(app, client, people, need):
    grow(app, need, people.solver, people.reviewer, people.manager, 3)
    scoreboard = f"{API}/challenges/{need}/scoreboard"
    assert client.get(scoreboard, headers=token(app, people.finance)).status_code == 403
    assert client.get(scoreboard, headers=token(app, people.rival)).status_code in (403, 404)
    assert client.get(scoreboard, headers=token(app, people.other_solver)).status_code == 403
    listed = client.get(f"{API}/challenges/{need}/proposals", headers=token(app, people.rival))
    assert listed.status_code in (200, 403, 404)
    if listed.status_code == 200:
        assert listed.get_json()["items"] == []
