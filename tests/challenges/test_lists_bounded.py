"""Browsing needs, an organization's portal and its members page cost the same number of SQL
statements at 5 rows and at 50; search results are counted up to a cap, never over all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ledger import utcnow
from marketplace.accounts.models import Organization, OrgRole
from marketplace.challenges import search
from marketplace.challenges.models import Challenge, Status
from marketplace.extensions import db
from tests.challenges.conftest import people, user  # noqa: F401
from tests.factories import MembershipFactory
from tests.judging.test_lists_bounded import count_statements
from tests.proposals.test_api import API


def open_needs(app, total: int) -> None:
    """Open public needs of Acme until it has ``total``."""
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        have = db.session.scalar(
            select(func.count(Challenge.id)).where(Challenge.organization_id == acme.id)
        )
        manager = user("manager@acme.example")
        for n in range(have, total):
            db.session.add(
                Challenge(
                    organization_id=acme.id,
                    created_by_id=manager.id,
                    title=f"Need {n} biodegradable",
                    summary="Packaging",
                    category="packaging",
                    maturity="idea",
                    currency="USD",
                    prize_total=1000 * n,
                    status=Status.OPEN,
                    visibility="public",
                    deadline=utcnow() + timedelta(days=30 + n),
                )  # fmt: skip
            )
        db.session.commit()


def members(app, total: int) -> None:
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        have = len(acme.memberships)
        for n in range(have, total):
            MembershipFactory(organization=acme, role=OrgRole.REVIEWER,
                              user__email=f"member{n}@acme.example")  # fmt: skip
        db.session.commit()


PAGES = [
    ("/challenges?per_page=100", open_needs, 'data-test="need-card"'),
    ("/challenges?per_page=100&q=biodegradable&sort=relevance", open_needs,
     'data-test="need-card"'),
    (API + "/challenges?per_page=100", open_needs, None),
    ("/organizations/acme/members?per_page=100", members, "<tr>"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "grow", "marker"), PAGES)
def test_statements_do_not_grow_with_the_rows_shown(app, client, auth, people, path, grow, marker):  # noqa: F811
    auth.login(people.owner)
    counts = []
    for total in (5, 50):
        grow(app, total)
        statements, response = count_statements(app, client, path)
        if marker is None:
            assert len(response.get_json()["items"]) == total
        else:
            # the members table has a header row
            shown = response.get_data(as_text=True).count(marker) - (marker == "<tr>")
            assert shown == total
        counts.append(statements)
    assert counts[0] == counts[1] <= 30, counts


def test_the_portal_shows_a_page_of_needs_and_a_pager(app, client, people):  # noqa: F811
    open_needs(app, 45)
    first = client.get("/o/acme").get_data(as_text=True)
    assert first.count('data-test="need-card"') == 20 and 'data-test="next"' in first
    last = client.get("/o/acme?page=3").get_data(as_text=True)
    assert last.count('data-test="need-card"') == 5 and 'data-test="next"' not in last
    assert client.get("/o/acme?page=x").status_code == 200


def test_search_counts_up_to_a_cap(app, people, monkeypatch):  # noqa: F811
    open_needs(app, 12)
    monkeypatch.setattr(search, "COUNT_CAP", 10)
    with app.app_context():
        page = search.search(None, {"per_page": 5})
        assert (page.total, page.capped, len(page.items)) == (10, True, 5)
        assert search.search(None, {"per_page": 5, "page": 3}).items == []  # past the cap
        exact = search.search(None, {"per_page": 5, "q": "Need 3 biodegradable"})
        assert exact.capped is False


def test_members_page_in_pages(app, client, auth, people):  # noqa: F811
    members(app, 7)
    auth.login(people.owner)
    first = client.get("/organizations/acme/members?per_page=4").get_data(as_text=True)
    assert first.count("<tr>") - 1 == 4 and 'data-test="next"' in first
    bad = client.get("/organizations/acme/members?cursor=%%%")
    assert bad.status_code == 200 and "Not a valid cursor" in bad.get_data(as_text=True)
