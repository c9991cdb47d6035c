"""The trial balance page and API: platform finance staff only."""

from __future__ import annotations

import pytest

from marketplace.accounts.models import OrgRole
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def people(app, runner):
    assert runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        return {
            "finance": UserFactory(is_platform_finance=True).email,
            "admin": UserFactory(is_admin=True).email,
            "solver": UserFactory().email,
            "org_finance": MembershipFactory(role=OrgRole.FINANCE).user.email,
        }


def test_finance_staff_see_the_trial_balance_page(client, auth, people) -> None:
    auth.login(people["finance"])
    page = client.get("/finance/trial-balance").get_data(as_text=True)
    assert "revenue:fees:usd" in page
    assert "-1,300.00 USD" in page  # the demo's fees: 10 % of its two first prizes
    assert 'data-test="total-USD">0.00 USD' in page


def test_finance_staff_read_the_trial_balance_api(client, auth, people) -> None:
    auth.login(people["finance"])
    lines = client.get("/api/v1/ledger/trial-balance").json
    assert sum(line["balance"] for line in lines) == 0
    past = client.get(
        "/api/v1/ledger/trial-balance", query_string={"as_of": "2001-01-01T00:00:00Z"}
    )
    assert all(line["debits"] == 0 for line in past.json)


@pytest.mark.parametrize("who", ["admin", "solver", "org_finance"])
def test_everyone_else_is_refused(client, auth, people, who) -> None:
    auth.login(people[who])
    assert client.get("/finance/trial-balance").status_code == 403
    refused = client.get("/api/v1/ledger/trial-balance")
    assert refused.status_code == 403
    assert refused.json["status"] == 403 and "finance" in refused.json["detail"]


def test_anonymous_is_sent_to_sign_in_or_gets_401(client, people) -> None:
    assert client.get("/finance/trial-balance").status_code == 302
    assert client.get("/api/v1/ledger/trial-balance").status_code == 401


def test_a_bad_as_of_is_a_clear_error(client, auth, people) -> None:
    auth.login(people["finance"])
    api = client.get("/api/v1/ledger/trial-balance", query_string={"as_of": "last tuesday"})
    assert api.status_code == 422
    assert "as_of" in api.json["errors"]
    page = client.get("/finance/trial-balance", query_string={"as_of": "2026-01-01T00:00:00"})
    assert page.status_code == 422
    assert "ISO 8601" in page.get_data(as_text=True)
