"""The organization insight costs the same number of SQL statements at 5 needs and solvers as
at 50: funnels, solver facts, types and the typology counts are aggregates in SQL, a page at a
time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ledger import utcnow
from marketplace.accounts.models import Organization
from marketplace.challenges.models import Challenge, Status
from marketplace.db import transaction
from marketplace.extensions import db
from marketplace.insight import solvers
from marketplace.proposals.models import MemberStatus, Proposal, ProposalStatus, TeamMember
from tests.challenges.conftest import people, user  # noqa: F401
from tests.factories import UserFactory
from tests.judging.test_lists_bounded import count_statements
from tests.proposals.test_api import API
from tests.proposals.test_api import auth as token


def grow(app, total: int) -> None:
    """Open needs of Acme until it has ``total``, each answered by a solver of its own, and
    the first solver on every need (a supporter). The rows are inserted directly, so the
    solver facts are refreshed as the job the services enqueue would."""
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        have = db.session.scalar(
            select(func.count(Challenge.id)).where(Challenge.organization_id == acme.id)
        )
        manager = user("manager@acme.example")
        first = user("solver@example.com")
        for n in range(have, total):
            need = Challenge(organization_id=acme.id, created_by_id=manager.id, title=f"Need {n}",
                             summary="s", category="c", maturity="idea", currency="USD",
                             status=Status.OPEN, visibility="public",
                             deadline=utcnow() + timedelta(days=30))  # fmt: skip
            db.session.add(need)
            db.session.flush()
            solver = UserFactory(email=f"solver{n}@example.com", name=f"Solver {n}")
            for lead in (solver, first):
                proposal = Proposal(
                    challenge_id=need.id, lead_id=lead.id, title="p",
                    status=ProposalStatus.SUBMITTED, submitted_at=utcnow(),
                )  # fmt: skip
                member = TeamMember(user_id=lead.id, email=lead.email, is_lead=True,
                                    status=MemberStatus.JOINED, share_bp=10_000)  # fmt: skip
                proposal.members = [member]
                db.session.add(proposal)
        db.session.commit()
        with transaction():
            solvers.refresh(acme.id)


@pytest.mark.parametrize("api", [False, True])
def test_insight_statements_do_not_grow(app, client, auth, people, api):  # noqa: F811
    headers = token(app, people.owner) if api else None
    if not api:
        auth.login(people.owner)
    path = (API + "/organizations/acme/insight" if api else "/o/acme/insight") + "?per_page=100"
    counts = []
    for total in (5, 50):
        grow(app, total)
        statements, response = count_statements(app, client, path, headers)
        if api:
            body = response.get_json()
            assert (len(body["needs"]), len(body["solvers"])) == (total, total + 1)
            assert body["type_counts"]["supporter"] == 1
            assert body["type_counts"]["transactor"] == total
        else:
            page = response.get_data(as_text=True)
            assert page.count('data-test="solver-') == total + 1
        counts.append(statements)
    assert counts[0] == counts[1] <= 30, counts


def test_insight_pages_needs_and_solvers_apart(app, client, people):  # noqa: F811
    grow(app, 7)
    headers = token(app, people.owner)
    url = f"{API}/organizations/acme/insight"
    first = client.get(f"{url}?per_page=3", headers=headers).get_json()
    assert first["solvers"][0]["type"]["key"] == "supporter"
    solvers, cursor = [row["user_id"] for row in first["solvers"]], first["solvers_next_cursor"]
    while cursor:
        page = client.get(f"{url}?per_page=3&solvers_cursor={cursor}", headers=headers).get_json()
        solvers += [row["user_id"] for row in page["solvers"]]
        cursor = page["solvers_next_cursor"]
    assert len(solvers) == len(set(solvers)) == 8
    needs = client.get(
        f"{url}?per_page=3&needs_cursor={first['needs_next_cursor']}", headers=headers
    ).get_json()
    assert len(needs["needs"]) == 3
    assert not {n["challenge_id"] for n in needs["needs"]} & {
        n["challenge_id"] for n in first["needs"]
    }
    bad = client.get(f"{url}?solvers_cursor=nonsense", headers=headers)
    assert bad.status_code == 422 and "cursor" in bad.get_json()["errors"]
