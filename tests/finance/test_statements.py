"""Account statements with a running balance, and balances as of a past day."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.finance.conftest import post

CASH = "asset:cash:stripe:usd"


def receivable_history(app, book) -> str:
    """Acme's receivable: +300.00 on 10 Jan, +200.00 on 15 Feb, -350.00 on 1 Mar 2024."""
    receivable = f"asset:receivable:org:{book.acme}:usd"
    lead = f"liability:payable:solver:{book.lead_id}:usd"
    partner = f"liability:payable:solver:{book.partner_id}:usd"
    post(app, receivable, lead, 30_000, "VALUE_SHARE", "vs:1",
         when=datetime(2024, 1, 10, 12, tzinfo=UTC))  # fmt: skip
    post(app, receivable, partner, 20_000, "VALUE_SHARE", "vs:2",
         when=datetime(2024, 2, 15, 0, 0, tzinfo=UTC))  # fmt: skip
    post(app, CASH, receivable, 35_000, "VALUE_SHARE_PAID", "vs:paid",
         when=datetime(2024, 3, 1, 9, tzinfo=UTC))  # fmt: skip
    return receivable


def test_a_statement_runs_the_balance(app, client, auth, book) -> None:
    account = receivable_history(app, book)
    auth.login(book.staff)
    whole = client.get("/api/v1/finance/statement", query_string={"account": account}).json
    assert whole["opening_balance"] == 0 and whole["currency"] == "USD"
    assert [line["balance"] for line in whole["lines"]] == [30_000, 50_000, 15_000]
    assert [(line["debit"], line["credit"]) for line in whole["lines"]] == [
        (30_000, 0), (20_000, 0), (0, 35_000)
    ]  # fmt: skip
    assert whole["closing_balance"] == 15_000
    february = client.get(
        "/api/v1/finance/statement",
        query_string={"account": account, "start": "2024-02-15", "end": "2024-02-29"},
    ).json
    assert february["opening_balance"] == 30_000
    assert [line["balance"] for line in february["lines"]] == [50_000]
    assert february["closing_balance"] == 50_000


def test_the_balance_as_of_a_past_day(app, client, auth, book) -> None:
    account = receivable_history(app, book)
    auth.login(book.staff)

    def as_of(day: str) -> int:
        answer = client.get(
            "/api/v1/finance/balance", query_string={"account": account, "as_of": day}
        )
        return answer.json["balance"]

    assert [as_of(d) for d in ("2023-12-31", "2024-02-14", "2024-02-15", "2024-03-01")] == [
        0, 30_000, 50_000, 15_000
    ]  # fmt: skip
    page = client.get("/finance/balance", query_string={"account": account, "as_of": "2024-02-14"})
    assert 'data-test="balance">300.00 USD' in page.get_data(as_text=True)


def test_the_statement_page(app, client, auth, book) -> None:
    account = receivable_history(app, book)
    auth.login(book.staff)
    page = client.get(
        "/finance/statement", query_string={"account": account, "start": "2024-02-01"}
    )
    text = page.get_data(as_text=True)
    assert 'data-test="opening">300.00 USD' in text
    assert 'data-test="closing">150.00 USD' in text
    assert text.count('data-test="running"') == 2
    assert client.get("/finance/statement", query_string={"account": "no:such"}).status_code == 404
    assert client.get("/finance/statement").status_code == 422


def test_the_accounts_list(client, auth, book) -> None:
    auth.login(book.staff)
    accounts = {a["code"]: a for a in client.get("/api/v1/finance/accounts").json}
    assert accounts[book.acme_escrow]["balance"] == -550_000  # 16,500.00 in, 11,000.00 out
    assert accounts["revenue:fees:usd"]["balance"] == -100_000
    page = client.get("/finance/accounts").get_data(as_text=True)
    assert book.rival_escrow in page and "-5,500.00 USD" in page
