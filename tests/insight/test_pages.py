"""The insight pages: need views counted (not the seeker's staff), the need page's funnel bars,
the organization page with the typology's rules, and who may open them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from marketplace.challenges.models import Challenge
from marketplace.extensions import db
from marketplace.insight.typology import TYPOLOGY
from tests.challenges.conftest import create


def views(app, challenge_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(Challenge.view_count).where(Challenge.id == challenge_id))


def cell(page: str, test: str) -> str:
    """The text of the first element marked ``data-test="<test>"``, tags stripped."""
    match = re.search(rf'data-test="{re.escape(test)}"[^>]*>(.*?)</(?:td|dd|strong|li)>',
                      page, re.S)  # fmt: skip
    assert match, test
    return re.sub(r"<[^>]+>|\s+", " ", match.group(1)).strip()


def test_need_page_views_count_but_not_the_seekers_staff(app, client, auth, people, need):
    assert client.get(f"/challenges/{need}").status_code == 200  # anonymous
    auth.login(people.solver)
    client.get(f"/challenges/{need}")
    client.get(f"/challenges/{need}")  # the same visitor within the hour: not again
    assert views(app, need) == 2
    for email in (people.manager, people.finance, people.reviewer):
        auth.logout()
        auth.login(email)
        assert client.get(f"/challenges/{need}").status_code == 200
    assert views(app, need) == 2
    assert client.get("/challenges/999999").status_code == 404
    assert views(app, need) == 2


def test_the_need_page_links_its_insight_for_judges_only(client, auth, people, need):
    auth.login(people.reviewer)
    assert f'href="/challenges/{need}/insight"' in client.get(f"/challenges/{need}").text
    auth.logout()
    auth.login(people.finance)
    assert f"/challenges/{need}/insight" not in client.get(f"/challenges/{need}").text


def test_the_need_insight_shows_the_funnel_as_bars(client, auth, people, funnel):
    auth.login(people.reviewer)
    page = client.get(f"/challenges/{funnel.challenge_id}/insight")
    assert page.status_code == 200
    text = page.text
    stages = re.findall(r'data-test="stage-(\w+)".*?width="(\d+)%".*?data-test="count">(\d+)<',
                        text, re.S)  # fmt: skip
    assert stages == [
        ("views", "100", "10"), ("accepted_terms", "70", "7"), ("submitted", "50", "5"),
        ("decided", "30", "3"), ("awarded", "10", "1"),
    ]  # fmt: skip
    assert "(71 %)" in text and "(33 %)" in text
    assert cell(text, "answered") == "3 (75 %)"
    assert cell(text, "median") == "5 min" and cell(text, "longest") == "15 min"
    assert 'data-test="organization-insight"' not in text  # reviewers: the need only


def test_the_organization_page_lists_needs_solvers_and_the_rules(client, auth, people, funnel):
    auth.login(people.manager)
    portal = client.get("/o/acme").text
    assert 'href="/o/acme/insight"' in portal
    page = client.get("/o/acme/insight")
    assert page.status_code == 200
    text = page.text
    row = text.split(f'data-test="need-{funnel.challenge_id}"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'data-test="(\w+)">\s*<svg[^>]*>.*?</svg>\s*(\d+)', row) == [
        ("views", "10"), ("accepted_terms", "7"), ("submitted", "5"),
        ("decided", "3"), ("awarded", "1"),
    ]  # fmt: skip
    for kind in TYPOLOGY:  # the page shows exactly the rules the code applies
        assert kind.rule.replace("'", "&#39;") in text
    # the awarded team: the solver (60 %) and the partner (40 %) of 10,000.00 USD
    assert "6,000.00 USD" in text and "4,000.00 USD" in text
    # the solver led a team the partner joined; the others took part once (u5 withdrew)
    assert text.count('data-type="promoter"') == 1
    assert text.count('data-type="transactor"') == 4  # partner, other, u3, u6


@pytest.mark.parametrize(
    "email, status",
    [
        ("owner@acme.example", 200),
        ("manager@acme.example", 200),
        ("reviewer@acme.example", 200),
        ("finance@acme.example", 403),
        ("solver@example.com", 403),
        ("rival@rival.example", 403),  # a public need: they see it, but may not judge it
    ],
)
def test_who_may_open_a_need_insight(client, auth, people, need, email, status):
    auth.login(email)
    assert client.get(f"/challenges/{need}/insight").status_code == status


def test_a_need_the_caller_cannot_see_is_a_404(client, auth, people, app):
    draft = create(app, people)
    auth.login(people.rival)
    assert client.get(f"/challenges/{draft}/insight").status_code == 404
    auth.logout()
    auth.login(people.manager)
    assert client.get(f"/challenges/{draft}/insight").status_code == 200


@pytest.mark.parametrize(
    "email, status",
    [
        ("owner@acme.example", 200),
        ("manager@acme.example", 200),
        ("reviewer@acme.example", 403),
        ("finance@acme.example", 403),
        ("solver@example.com", 403),
        ("rival@rival.example", 403),
    ],
)
def test_who_may_open_the_organization_insight(client, auth, people, email, status):
    auth.login(email)
    assert client.get("/o/acme/insight").status_code == status
    assert client.get("/o/nobody/insight").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, need):
    for path in (f"/challenges/{need}/insight", "/o/acme/insight"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
