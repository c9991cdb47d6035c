"""The journal browser: filters narrow it, newest first, a page at a time (page and API)."""

from __future__ import annotations

from datetime import UTC, datetime

API = "/api/v1/finance/transfers"


def codes(client, **query) -> list[str]:
    return [row["code"] for row in client.get(API, query_string=query).json["items"]]


def test_staff_see_every_transfer_newest_first(client, auth, book) -> None:
    auth.login(book.staff)
    page = client.get(API).json
    assert len(page["items"]) == 5  # two fundings, two award shares, one fee
    assert page["next_cursor"] is None and "total" not in page
    ids = [row["id"] for row in page["items"]]
    assert ids == sorted(ids, reverse=True)
    row = page["items"][0]
    assert row["code"] == "FUND_ESCROW" and row["debit_account"] == "asset:cash:stripe:usd"
    assert row["credit_account"] == book.rival_escrow
    assert (row["amount"], row["currency"], row["status"]) == (1_650_000, "USD", "posted")
    assert row["journal_key"].startswith("payment:") and row["recorded_by"]


def test_each_filter_narrows_the_journal(client, auth, book) -> None:
    auth.login(book.staff)
    assert codes(client, code="AWARD") == ["AWARD", "AWARD"]
    assert codes(client, code="FEE") == ["FEE"]
    assert codes(client, account=book.acme_escrow) == ["FEE", "AWARD", "AWARD", "FUND_ESCROW"]
    assert sorted(codes(client, account="liability:escrow")) == sorted(
        ["FEE", "AWARD", "AWARD", "FUND_ESCROW", "FUND_ESCROW"]
    )
    assert codes(client, account="liability:escrow:chal") == []  # prefixes end at a colon
    assert codes(client, account=f"liability:payable:solver:{book.lead_id}:usd") == ["AWARD"]
    assert codes(client, reference=f"challenge:{book.rival_need}") == ["FUND_ESCROW"]
    assert codes(client, reference=f"proposal:{book.proposal_id}") == ["FEE", "AWARD", "AWARD"]
    assert codes(client, code="AWARD", reference="nothing") == []


def test_the_date_range_is_on_the_effective_day(app, client, auth, book) -> None:
    from tests.finance.conftest import post

    post(app, "asset:cash:stripe:usd", book.acme_escrow, 100, "FUND_ESCROW", "old",
         when=datetime(2024, 3, 9, 23, 59, tzinfo=UTC))  # fmt: skip
    auth.login(book.staff)
    assert codes(client, start="2024-03-09", end="2024-03-09") == ["FUND_ESCROW"]
    assert codes(client, end="2024-03-08") == []
    assert len(codes(client, start="2024-03-10")) == 5
    assert client.get(API, query_string={"start": "yesterday"}).status_code == 422


def ids_of(response) -> list[int]:
    return [row["id"] for row in response.json["items"]]


def test_pages_of_the_journal_follow_the_cursor(client, auth, book) -> None:
    auth.login(book.staff)
    everything = ids_of(client.get(API))
    first = client.get(API, query_string={"per_page": 2}).json
    second = client.get(API, query_string={"per_page": 2, "cursor": first["next_cursor"]}).json
    third = client.get(API, query_string={"per_page": 2, "cursor": second["next_cursor"]}).json
    walked = [row["id"] for page in (first, second, third) for row in page["items"]]
    assert walked == everything and third["next_cursor"] is None
    assert [len(page["items"]) for page in (first, second, third)] == [2, 2, 1]


def test_page_boundaries_exactly_full_one_more_and_empty(client, auth, book) -> None:
    auth.login(book.staff)
    exactly = client.get(API, query_string={"per_page": 5}).json
    assert len(exactly["items"]) == 5 and exactly["next_cursor"] is None
    one_short = client.get(API, query_string={"per_page": 4}).json
    assert len(one_short["items"]) == 4 and one_short["next_cursor"]
    rest = client.get(API, query_string={"per_page": 4, "cursor": one_short["next_cursor"]})
    assert len(rest.json["items"]) == 1 and rest.json["next_cursor"] is None
    empty = client.get(API, query_string={"code": "NOTHING"}).json
    assert empty["items"] == [] and empty["next_cursor"] is None


def test_a_bad_cursor_is_a_field_error(client, auth, book) -> None:
    auth.login(book.staff)
    for cursor in ("nonsense", "W10", "x" * 501):
        response = client.get(API, query_string={"cursor": cursor})
        assert response.status_code == 422, cursor
        assert "cursor" in response.json["errors"]
    page = client.get("/finance/journal", query_string={"cursor": "nonsense"})
    assert page.status_code == 422


def test_the_page_links_to_older_transfers(client, auth, book) -> None:
    auth.login(book.staff)
    text = client.get("/finance/journal", query_string={"per_page": 2}).get_data(as_text=True)
    assert "cursor=" in text and "Older" in text
    last = client.get(API, query_string={"per_page": 4}).json["next_cursor"]
    text = client.get("/finance/journal", query_string={"per_page": 4, "cursor": last})
    assert "Older" not in text.get_data(as_text=True)


def test_the_statement_count_does_not_grow_with_the_rows(app, client, auth, book) -> None:
    from tests.finance.conftest import post
    from tests.sql_writes import statements_during

    for n in range(50):
        post(app, "asset:cash:stripe:usd", book.acme_escrow, 100 + n, "FUND_ESCROW", f"k{n}")
    auth.login(book.staff)
    counts = []
    for per_page in (5, 50):
        for url in (API, "/finance/journal"):
            with statements_during(app) as seen:
                response = client.get(url, query_string={"per_page": per_page})
            assert response.status_code == 200
            counts.append(len(seen))
    assert counts[:2] == counts[2:], counts


def test_the_journal_page_shows_rows_and_filters(client, auth, book) -> None:
    auth.login(book.staff)
    page = client.get("/finance/journal", query_string={"code": "FEE", "start": ""})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "1,000.00 USD" in text and "revenue:fees:usd" in text
    assert f"award:proposal:{book.proposal_id}" in text
    bad = client.get("/finance/journal", query_string={"end": "31/01/2026"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.get_data(as_text=True)


def test_one_transfer_by_id(client, auth, book) -> None:
    auth.login(book.staff)
    newest = client.get(API).json["items"][0]
    assert client.get(f"{API}/{newest['id']}").json == newest
    assert client.get(f"{API}/999999").status_code == 404
