"""The platform admins' audit search and an organization's owners' part of the log: filters,
keyset pages whose statement count does not grow, and the wrong people refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from marketplace.accounts.models import Organization, OrgRole
from marketplace.audit.models import AuditEvent
from marketplace.extensions import db
from tests.challenges.conftest import user
from tests.factories import MembershipFactory, UserFactory
from tests.sql_writes import statements_during

DAY = datetime(2026, 3, 10, 12, tzinfo=UTC)


def org(slug: str) -> Organization:
    return db.session.scalar(db.select(Organization).where(Organization.slug == slug))


def add(action: str, **values: object) -> int:
    event = AuditEvent(action=action, occurred_at=values.pop("at", DAY), details={}, **values)
    db.session.add(event)
    db.session.commit()
    return event.id


@pytest.fixture
def log(app: Flask, people) -> dict[str, int]:
    """A few events of Acme and of Rival, by different people, on different days."""
    with app.app_context():
        acme, rival = org("acme").id, org("rival").id
        owner, manager = user(people.owner).id, user(people.manager).id
        admin = UserFactory(email="admin@platform.example", is_admin=True, second_factor=True)
        MembershipFactory(organization=org("rival"), role=OrgRole.OWNER,
                          user__email="boss@rival.example")  # fmt: skip
        return {
            "fund": add("need.fund", actor_user_id=manager, organization_id=acme,
                        object_type="need", object_id="7", at=DAY - timedelta(days=3)),
            "add": add("membership.add", actor_user_id=owner, organization_id=acme,
                       object_type="membership", object_id="3"),
            "refused": add("membership.set", actor_user_id=manager, organization_id=acme,
                           object_type="organization", object_id=str(acme), outcome="refused"),
            "rival": add("need.publish", organization_id=rival, object_type="need",
                         object_id="9", at=DAY + timedelta(days=1)),
            "sign_in": add("session.sign_in", actor_user_id=admin.id, outcome="refused"),
        }  # fmt: skip


def shown(response) -> set[int]:
    """The ids of the seeded events the page lists."""
    text = response.get_data(as_text=True)
    return {int(part.split('"')[0]) for part in text.split('data-test="event-')[1:]}


def test_admins_search_by_each_filter(client: FlaskClient, auth, log) -> None:
    auth.login("admin@platform.example")
    cases = {
        "": set(log.values()),
        "actor_email=Manager@acme.example": {log["fund"], log["refused"]},
        "action=membership": {log["add"], log["refused"]},
        "action=membership.add": {log["add"]},
        "object_type=need&object_id=7": {log["fund"]},
        "organization=rival": {log["rival"]},
        "start=2026-03-10&end=2026-03-10": {log["add"], log["refused"], log["sign_in"]},
        "start=2026-03-11": {log["rival"]},
        "outcome=refused": {log["refused"], log["sign_in"]},
        "action=membership&outcome=succeeded": {log["add"]},
    }
    for query, expected in cases.items():
        response = client.get(f"/admin/audit?{query}")
        assert response.status_code == 200, query
        assert shown(response) & set(log.values()) == expected, query
    assert client.get("/admin/audit").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "query",
    ["outcome=maybe", "start=yesterday", "action=a%25b", "start=2026-03-11&end=2026-03-10",
     "actor_email=a%01b", "cursor=nonsense", "per_page=0"],
)  # fmt: skip
def test_bad_filters_are_a_clear_error(client: FlaskClient, auth, log, query: str) -> None:
    auth.login("admin@platform.example")
    assert client.get(f"/admin/audit?{query}").status_code == 422


def test_pages_follow_one_another_newest_first(client: FlaskClient, auth, log) -> None:
    auth.login("admin@platform.example")
    seen: list[int] = []
    url = "/admin/audit?per_page=2&start=2026-03-01&end=2026-03-31"
    while url:
        response = client.get(url)
        text = response.get_data(as_text=True)
        seen += [int(p.split('"')[0]) for p in text.split('data-test="event-')[1:]]
        next_link = text.partition('rel="next"')[0].rpartition('href="')[2].partition('"')[0]
        url = next_link.replace("&amp;", "&") if 'rel="next"' in text else ""
    assert seen == [log["rival"], log["sign_in"], log["refused"], log["add"], log["fund"]]


def test_a_page_runs_the_same_statements_whatever_the_log_s_size(
    app: Flask, client: FlaskClient, auth, log
) -> None:
    auth.login("admin@platform.example")
    counts = []
    for size in (5, 50):
        with app.app_context():
            owner, acme = user("owner@acme.example").id, org("acme").id
            for n in range(size):
                add("need.edit", actor_user_id=owner, organization_id=acme, object_id=str(n))
        with statements_during(app) as statements:
            response = client.get(f"/admin/audit?per_page={size}&action=need.edit")
        assert len(shown(response)) == size
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_owners_see_their_organization_s_part_only(client: FlaskClient, auth, log) -> None:
    auth.login("owner@acme.example")
    response = client.get("/o/acme/settings/audit")
    assert response.status_code == 200
    assert shown(response) & set(log.values()) == {log["fund"], log["add"], log["refused"]}
    # The organization filter cannot reach out of the owners' organization.
    assert shown(client.get("/o/acme/settings/audit?organization=rival")) & {log["rival"]} == set()
    assert shown(client.get("/o/acme/settings/audit?outcome=refused")) == {log["refused"]}


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("owner@acme.example", "/admin/audit"),  # an owner is no platform admin
        ("manager@acme.example", "/admin/audit"),
        ("manager@acme.example", "/o/acme/settings/audit"),  # a member, not an owner
        ("finance@acme.example", "/o/acme/settings/audit"),
        ("boss@rival.example", "/o/acme/settings/audit"),  # the owner of another organization
        ("admin@platform.example", "/o/acme/settings/audit"),  # admins search on their page
    ],
)
def test_the_wrong_people_are_refused(client: FlaskClient, auth, log, who: str, url: str) -> None:
    auth.login(who)
    response = client.get(url)
    assert response.status_code == 403
    assert b'data-test="event-' not in response.data


def test_anonymous_visitors_are_sent_to_sign_in(client: FlaskClient, log) -> None:
    for url in ("/admin/audit", "/o/acme/settings/audit"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
