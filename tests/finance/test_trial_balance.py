"""The trial balance page and API: platform finance staff only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from marketplace.accounts.models import OrgRole
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def people(app, runner):
    assert runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        return {
            "finance": UserFactory(is_platform_finance=True, second_factor=True).email,
            "admin": UserFactory(is_admin=True, second_factor=True).email,
            "solver": UserFactory().email,
            "org_finance": MembershipFactory(role=OrgRole.FINANCE).user.email,
        }


TB = "/api/v1/ledger/trial-balance"


def test_finance_staff_see_the_trial_balance_page(client, auth, people) -> None:
    auth.login(people["finance"])
    page = client.get("/finance/trial-balance").get_data(as_text=True)
    assert 'data-test="group-revenue-fees-USD"' in page
    assert "-1,300.00 USD" in page  # the demo's fees: 10 % of its two first prizes
    assert 'data-test="total-USD">0.00 USD' in page and "unbalanced" not in page
    assert "/finance/trial-balance/accounts?type=revenue&amp;kind=fees&amp;currency=USD" in page


def test_finance_staff_read_the_trial_balance_api(client, auth, people) -> None:
    auth.login(people["finance"])
    now = client.get(TB).json
    assert now["balanced"] is True
    assert sum(group["balance"] for group in now["groups"]) == 0
    assert all(total["debits"] == total["credits"] for total in now["totals"])
    past = client.get(TB, query_string={"as_of": "2001-01-01T00:00:00Z"}).json
    assert all(group["debits"] == 0 == group["credits"] for group in past["groups"])


def drill_down(client, group: dict, per_page: int, **query) -> list[dict]:
    keys = {k: group[k] for k in ("type", "kind", "currency")}
    lines, cursor = [], None
    while True:
        more = {"cursor": cursor} if cursor else {}
        page = client.get(
            f"{TB}/accounts", query_string=keys | query | more | {"per_page": per_page}
        )
        assert page.status_code == 200, page.json
        assert len(page.json["items"]) <= per_page
        lines += page.json["items"]
        cursor = page.json["next_cursor"]
        if cursor is None:
            return lines


@pytest.mark.parametrize("as_of", [None, "past", "between"])
def test_the_totals_equal_every_account_summed(app, client, auth, people, as_of) -> None:
    """Per line, the drill-down's accounts sum to the line; per account, the figures equal the
    ledger's own trial balance (a re-sum of the transfers when as of a moment)."""
    import ledger
    from marketplace.extensions import db

    with app.app_context():
        moments = sorted(
            t.posted_at for t in db.session.scalars(select(ledger.Transfer)) if t.posted_at
        )
        moment = {"past": datetime(2001, 1, 1, tzinfo=UTC), "between": moments[len(moments) // 2]}
        at = moment.get(as_of)
        expected = {line.account: line for line in ledger.trial_balance(db.session, at)}
    auth.login(people["finance"])
    query = {"as_of": at.isoformat()} if at else {}
    result = client.get(TB, query_string=query).json
    assert result["balanced"] is True
    seen = set()
    for group in result["groups"]:
        lines = drill_down(client, group, 3, **query)
        assert len(lines) == group["accounts"]
        assert sum(line["debits"] for line in lines) == group["debits"]
        assert sum(line["credits"] for line in lines) == group["credits"]
        for line in lines:
            mine = expected[line["account"]]
            assert (line["debits"], line["credits"]) == (mine.debits, mine.credits), line
            seen.add(line["account"])
    assert seen == set(expected)


def test_drill_down_boundaries_and_bad_queries(app, client, auth, people) -> None:
    import ledger
    from marketplace.extensions import db

    with app.app_context():
        for n in range(6):
            ledger.open_account(db.session, f"expense:test:{n:02}:usd", "expense", "USD")
        db.session.commit()
    auth.login(people["finance"])
    keys = {"type": "expense", "kind": "test", "currency": "USD"}
    exactly = client.get(f"{TB}/accounts", query_string=keys | {"per_page": 6}).json
    assert len(exactly["items"]) == 6 and exactly["next_cursor"] is None
    short = client.get(f"{TB}/accounts", query_string=keys | {"per_page": 5}).json
    assert len(short["items"]) == 5 and short["next_cursor"]
    rest = client.get(
        f"{TB}/accounts", query_string=keys | {"per_page": 5, "cursor": short["next_cursor"]}
    ).json
    assert [line["account"] for line in rest["items"]] == ["expense:test:05:usd"]
    none = client.get(f"{TB}/accounts", query_string=keys | {"kind": "nothing"}).json
    assert none["items"] == [] and none["next_cursor"] is None
    for bad in ({"cursor": "nonsense"}, {"type": "cash"}, {"currency": "dollars"}, {"kind": ""}):
        answer = client.get(f"{TB}/accounts", query_string=keys | bad)
        assert answer.status_code == 422 and set(answer.json["errors"]) == set(bad), bad
    page = client.get("/finance/trial-balance/accounts", query_string=keys | {"per_page": 5})
    text = page.get_data(as_text=True)
    assert text.count('data-test="balance"') == 5 and "cursor=" in text


def test_the_statement_count_does_not_grow_with_the_rows(app, client, auth, people) -> None:
    import ledger
    from marketplace.extensions import db
    from tests.sql_writes import statements_during

    with app.app_context():
        for n in range(50):
            ledger.open_account(db.session, f"expense:many:{n:02}:usd", "expense", "USD")
        db.session.commit()
    auth.login(people["finance"])
    keys = {"type": "expense", "kind": "many", "currency": "USD", "as_of": "2001-01-01T00:00:00Z"}
    counts = []
    for per_page in (5, 50):
        for url in (f"{TB}/accounts", "/finance/trial-balance/accounts"):
            with statements_during(app) as seen:
                assert (
                    client.get(url, query_string=keys | {"per_page": per_page}).status_code == 200
                )
            counts.append(len(seen))
    assert counts[:2] == counts[2:], counts


@pytest.mark.parametrize("who", ["admin", "solver", "org_finance"])
def test_everyone_else_is_refused(client, auth, people, who) -> None:
    auth.login(people[who])
    assert client.get("/finance/trial-balance").status_code == 403
    refused = client.get("/api/v1/ledger/trial-balance")
    assert refused.status_code == 403
    accounts = {"type": "asset", "kind": "cash", "currency": "USD"}
    assert client.get(f"{TB}/accounts", query_string=accounts).status_code == 403
    assert client.get("/finance/trial-balance/accounts", query_string=accounts).status_code == 403
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
