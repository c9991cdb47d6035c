"""Account statements with a running balance, and balances as of a past day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import ledger
from marketplace.extensions import db
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


API = "/api/v1/finance/statement"


def every_page(client, account: str, per_page: int) -> list[dict]:
    """The whole statement, following the cursors; each page no longer than per_page."""
    lines, cursor = [], None
    while True:
        query = {"account": account, "per_page": per_page} | ({"cursor": cursor} if cursor else {})
        page = client.get(API, query_string=query).json
        assert len(page["lines"]) <= per_page
        lines += page["lines"]
        cursor = page["next_cursor"]
        if cursor is None:
            return lines


def test_a_statement_runs_the_balance(app, client, auth, book) -> None:
    account = receivable_history(app, book)
    auth.login(book.staff)
    whole = client.get(API, query_string={"account": account}).json
    assert whole["currency"] == "USD" and whole["balance"] == 15_000
    assert whole["next_cursor"] is None
    assert [line["balance"] for line in whole["lines"]] == [15_000, 50_000, 30_000]
    assert [(line["debit"], line["credit"]) for line in whole["lines"]] == [
        (0, 35_000), (20_000, 0), (30_000, 0)
    ]  # fmt: skip
    assert whole["lines"][0]["counterparty"] == CASH


def test_the_running_balance_equals_a_re_sum_at_every_row(app, client, auth, book) -> None:
    account = receivable_history(app, book)
    lead = f"liability:payable:solver:{book.lead_id}:usd"
    for n in range(23):
        if n % 4 == 3:
            post(app, CASH, account, 1_000 + n, "VALUE_SHARE_PAID", f"paid:{n}")
        else:
            post(app, account, lead, 2_000 + n, "VALUE_SHARE", f"share:{n}")
    auth.login(book.staff)
    for per_page in (1, 4, 26, 50):
        lines = every_page(client, account, per_page)
        assert len(lines) == 26 and len({line["transfer_id"] for line in lines}) == 26
        running = 0
        for line in reversed(lines):  # oldest first
            running += line["debit"] - line["credit"]
            assert line["balance"] == running, (per_page, line)
        assert running == client.get(API, query_string={"account": account}).json["balance"]


def test_statement_page_boundaries_and_bad_cursors(app, client, auth, book) -> None:
    account = receivable_history(app, book)
    auth.login(book.staff)
    exactly = client.get(API, query_string={"account": account, "per_page": 3}).json
    assert len(exactly["lines"]) == 3 and exactly["next_cursor"] is None
    short = client.get(API, query_string={"account": account, "per_page": 2}).json
    assert len(short["lines"]) == 2 and short["next_cursor"]
    rest = client.get(
        API, query_string={"account": account, "per_page": 2, "cursor": short["next_cursor"]}
    ).json
    assert [line["balance"] for line in rest["lines"]] == [30_000]
    assert rest["next_cursor"] is None
    empty = client.get(API, query_string={"account": "revenue:fees:usd"}).json
    assert empty["lines"] != []  # the award's fee
    for cursor in ("nonsense", "WyJhIiwxXQ", "W1tdLDFd"):
        bad = client.get(API, query_string={"account": account, "cursor": cursor})
        assert bad.status_code == 422 and "cursor" in bad.json["errors"], cursor
        page = client.get("/finance/statement", query_string={"account": account, "cursor": cursor})
        assert page.status_code == 422


def test_an_account_with_no_transfer_has_an_empty_statement(app, client, auth, book) -> None:
    auth.login(book.staff)
    rival = f"asset:receivable:org:{book.rival}:usd"
    page = client.get(API, query_string={"account": rival}).json
    assert page["lines"] == [] and page["next_cursor"] is None and page["balance"] == 0
    text = client.get("/finance/statement", query_string={"account": rival}).get_data(as_text=True)
    assert "No posted transfer" in text


def test_the_balance_as_of_a_day(app, client, auth, book) -> None:
    """As the book stood at the end of the day: what was written by then (the rows were
    written today, whatever their effective day)."""
    account = receivable_history(app, book)
    auth.login(book.staff)

    def as_of(day: str) -> int:
        answer = client.get(
            "/api/v1/finance/balance", query_string={"account": account, "as_of": day}
        )
        return answer.json["balance"]

    today = datetime.now(UTC).date()
    yesterday = date.fromordinal(today.toordinal() - 1)
    assert as_of(yesterday.isoformat()) == 0
    assert as_of(today.isoformat()) == 15_000
    page = client.get("/finance/balance", query_string={"account": account, "as_of": str(today)})
    assert 'data-test="balance">150.00 USD' in page.get_data(as_text=True)


def test_the_statement_page(app, client, auth, book) -> None:
    account = receivable_history(app, book)
    auth.login(book.staff)
    page = client.get("/finance/statement", query_string={"account": account, "per_page": 2})
    text = page.get_data(as_text=True)
    assert 'data-test="balance-now">150.00 USD' in text
    assert text.count('data-test="running"') == 2 and "cursor=" in text
    assert client.get("/finance/statement", query_string={"account": "no:such"}).status_code == 404
    assert client.get("/finance/statement").status_code == 422


def test_the_statement_count_does_not_grow_with_the_rows(app, client, auth, book) -> None:
    from tests.sql_writes import statements_during

    account = receivable_history(app, book)
    lead = f"liability:payable:solver:{book.lead_id}:usd"
    for n in range(50):
        post(app, account, lead, 100 + n, "VALUE_SHARE", f"many:{n}")
    auth.login(book.staff)
    counts = []
    for per_page in (5, 50):
        for url in (API, "/finance/statement"):
            with statements_during(app) as seen:
                response = client.get(url, query_string={"account": account, "per_page": per_page})
            assert response.status_code == 200
            counts.append(len(seen))
    assert counts[:2] == counts[2:], counts


def test_the_accounts_list(client, auth, book) -> None:
    auth.login(book.staff)
    answer = client.get("/api/v1/finance/accounts").json
    accounts = {a["code"]: a for a in answer["items"]}
    assert accounts[book.acme_escrow]["balance"] == -550_000  # 16,500.00 in, 11,000.00 out
    assert accounts["revenue:fees:usd"]["balance"] == -100_000
    assert list(accounts) == sorted(accounts) and answer["next_cursor"] is None
    page = client.get("/finance/accounts").get_data(as_text=True)
    assert book.rival_escrow in page and "-5,500.00 USD" in page


def test_the_accounts_list_is_paged_by_code(app, client, auth, book) -> None:
    from tests.sql_writes import statements_during

    auth.login(book.staff)
    api = "/api/v1/finance/accounts"
    everything = [a["code"] for a in client.get(api, query_string={"per_page": 200}).json["items"]]
    walked, cursor = [], None
    while True:
        query = {"per_page": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(api, query_string=query).json
        walked += [a["code"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == everything
    exactly = client.get(api, query_string={"per_page": len(everything)}).json
    assert exactly["next_cursor"] is None
    assert client.get(api, query_string={"cursor": "nonsense"}).status_code == 422
    assert client.get("/finance/accounts", query_string={"cursor": "nonsense"}).status_code == 422
    with app.app_context():
        for n in range(50):
            ledger.open_account(db.session, f"expense:listed:{n:02}:usd", "expense", "USD")
        db.session.commit()
    counts = []
    for per_page in (5, 50):
        for url in (api, "/finance/accounts"):
            with statements_during(app) as seen:
                assert client.get(url, query_string={"per_page": per_page}).status_code == 200
            counts.append(len(seen))
    assert counts[:2] == counts[2:], counts
    text = client.get("/finance/accounts", query_string={"per_page": 5}).get_data(as_text=True)
    assert "cursor=" in text
