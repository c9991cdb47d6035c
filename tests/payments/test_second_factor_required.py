"""Funding a need, awarding a prize and reporting value need a second factor: an owner or a
finance member without one is refused in the service, so on the page (sent to set one up) and
through the API (403) alike; with one, the same request goes through."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import Organization, OrgRole
from marketplace.extensions import db
from marketplace.judging.models import Award
from marketplace.payments.models import Payment
from marketplace.value.models import ValueReport
from tests.challenges.conftest import create, user
from tests.challenges.test_api import bearer, token_for
from tests.factories import MembershipFactory
from tests.proposals.conftest import need, people, submitted  # noqa: F401
from tests.second_factors import enrol
from tests.value.conftest import awarded  # noqa: F401
from tests.value.test_api import report_json
from tests.value.test_pages import report_form

API = "/api/v1"
SET_UP = "/account/second-factor"


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)))


@pytest.fixture
def without(app, people) -> dict[str, str]:  # noqa: F811
    """Acme's second owner and second finance member, neither with a second factor."""
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        return {
            role: MembershipFactory(
                organization=acme, role=role, user__email=f"new-{role.value}@acme.example"
            ).user.email
            for role in (OrgRole.OWNER, OrgRole.FINANCE)
        }


@pytest.mark.parametrize("role", [OrgRole.OWNER, OrgRole.FINANCE])
def test_funding_needs_a_second_factor(app, client, auth, people, without, role) -> None:  # noqa: F811
    email = without[role]
    challenge_id = create(app, people)
    auth.login(email)
    page = client.post(f"/challenges/{challenge_id}/fund")
    assert page.status_code == 302 and page.location == SET_UP
    assert "before you fund a need" in client.get(SET_UP).get_data(as_text=True)
    token = bearer(token_for(app, email))
    refused = client.post(f"{API}/challenges/{challenge_id}/fundings", json={}, headers=token)
    assert refused.status_code == 403
    assert "second factor" in refused.json["detail"] and "fund a need" in refused.json["detail"]
    assert count(app, Payment) == 0
    with app.app_context():
        enrol(email)
    funded = client.post(f"{API}/challenges/{challenge_id}/fundings", json={}, headers=token)
    assert funded.status_code == 201, funded.json
    assert count(app, Payment) == 1


def test_awarding_needs_a_second_factor(app, client, auth, people, submitted) -> None:  # noqa: F811
    with app.app_context():
        acme = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
        owner = MembershipFactory(organization=acme, role=OrgRole.OWNER).user.email
    pid = submitted.proposal_id
    auth.login(owner)
    form = {"prize_rank": "1", "feedback": "Strong pilot data."}
    page = client.post(f"/proposals/{pid}/judging/award", data=form)
    assert page.status_code == 302 and page.location == SET_UP
    token = bearer(token_for(app, owner))
    body = {"outcome": "award", "prize_rank": 1, "feedback": "Strong pilot data."}
    refused = client.post(f"{API}/proposals/{pid}/decision", json=body, headers=token)
    assert refused.status_code == 403 and "award a prize" in refused.json["detail"]
    assert count(app, Award) == 0
    with app.app_context():
        enrol(owner)
    awarded_now = client.post(f"{API}/proposals/{pid}/decision", json=body, headers=token)
    assert awarded_now.status_code == 201, awarded_now.json
    assert count(app, Award) == 1


def test_reporting_value_needs_a_second_factor(app, client, auth, without, awarded) -> None:  # noqa: F811
    finance = without[OrgRole.FINANCE]
    auth.login(finance)
    page = client.post(
        f"/awards/{awarded.award_id}/value-reports", data=report_form(awarded, 0, 89)
    )
    assert page.status_code == 302 and page.location == SET_UP
    token = bearer(token_for(app, finance))
    url = f"{API}/awards/{awarded.award_id}/value-reports"
    refused = client.post(url, json=report_json(awarded, 0, 89), headers=token)
    # without a second factor, no token may hold value:write: refused before the service
    assert refused.status_code == 403 and "value:write" in refused.json["detail"]
    assert count(app, ValueReport) == 0
    with app.app_context():
        enrol(finance)
        assert user(finance).email == finance
    token = bearer(token_for(app, finance))  # with a second factor, a token may hold value:write
    reported = client.post(url, json=report_json(awarded, 0, 89), headers=token)
    assert reported.status_code == 201, reported.json
    assert count(app, ValueReport) == 1
