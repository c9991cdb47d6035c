"""The insight JSON API: a need's funnel and an organization's needs and solvers, integers
only, and who may read them (401 anonymous, 404 a need one cannot see, 403 otherwise)."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.challenges.conftest import create, user
from tests.factories import make_token

API = "/api/v1"


def bearer(app: Flask, email: str) -> dict[str, str]:
    with app.app_context():
        return {"Authorization": f"Bearer {make_token(user(email))[1]}"}


def test_a_need_insight_gives_the_funnel_and_response_times(app, client, people, funnel):
    response = client.get(
        f"{API}/challenges/{funnel.challenge_id}/insight", headers=bearer(app, people.reviewer)
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["challenge_id"] == funnel.challenge_id and body["status"] == "open"
    assert [(s["key"], s["count"], s["conversion_percent"]) for s in body["stages"]] == [
        ("views", 10, None), ("accepted_terms", 7, 70), ("submitted", 5, 71),
        ("decided", 3, 60), ("awarded", 1, 33),
    ]  # fmt: skip
    assert all(s["rule"] for s in body["stages"])
    assert body["responses"] == {
        "received": 4, "answered": 3, "rate_percent": 75, "median_seconds": 300,
        "longest_seconds": 900,
    }  # fmt: skip


def test_an_organization_insight_gives_needs_solvers_and_the_typology(app, client, people, funnel):
    response = client.get(f"{API}/organizations/acme/insight", headers=bearer(app, people.owner))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["organization"] == {"slug": "acme", "name": "Acme"}
    assert [need["challenge_id"] for need in body["needs"]] == [funnel.challenge_id]
    assert [kind["key"] for kind in body["typology"]] == [
        "co_creator", "promoter", "supporter", "transactor",
    ]  # fmt: skip
    with app.app_context():
        solver_id, partner_id = user(people.solver).id, user("partner@example.com").id
    solvers = {row["user_id"]: row for row in body["solvers"]}
    assert len(solvers) == 5  # the team's two, other, u3 and u6 (u4 drafted, u5 withdrew)
    lead = solvers[solver_id]
    assert lead["type"]["key"] == "promoter"
    assert (lead["proposals"], lead["needs"], lead["teams_led"], lead["awards"]) == (1, 1, 1, 1)
    assert lead["earned"] == [{"currency": "USD", "amount": 600_000}]
    assert lead["value_attributed"] == []
    assert solvers[partner_id]["earned"] == [{"currency": "USD", "amount": 400_000}]
    assert solvers[partner_id]["type"]["name"] == "Transactor"


@pytest.mark.parametrize(
    "email, need_status, organization_status",
    [
        ("manager@acme.example", 200, 200),
        ("reviewer@acme.example", 200, 403),
        ("finance@acme.example", 403, 403),
        ("solver@example.com", 403, 403),
        ("rival@rival.example", 403, 403),
    ],
)
def test_who_may_read(app, client, people, need, email, need_status, organization_status):
    headers = bearer(app, email)
    response = client.get(f"{API}/challenges/{need}/insight", headers=headers)
    assert response.status_code == need_status, response.get_json()
    response = client.get(f"{API}/organizations/acme/insight", headers=headers)
    assert response.status_code == organization_status, response.get_json()
    if organization_status == 403:
        assert response.get_json()["status"] == 403


def test_a_need_the_caller_cannot_see_is_a_404_and_anonymous_a_401(app, client, people, need):
    draft = create(app, people)
    rival = bearer(app, people.rival)
    assert client.get(f"{API}/challenges/{draft}/insight", headers=rival).status_code == 404
    assert client.get(f"{API}/organizations/nobody/insight", headers=rival).status_code == 404
    for path in (f"{API}/challenges/{need}/insight", f"{API}/organizations/acme/insight"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.get_json()["status"] == 401
