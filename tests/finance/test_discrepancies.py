"""What the provider said that did not match: every recorded row, newest first, keyset pages
(the reconciliation shows the newest few and links here)."""

from __future__ import annotations

from marketplace.extensions import db
from marketplace.payments.discrepancies import record_discrepancy

API = "/api/v1/finance/provider-discrepancies"
PAGE = "/finance/provider-discrepancies"


def record(app, count: int) -> list[int]:
    with app.app_context():
        ids = [
            record_discrepancy("amount_differs", f"odd webhook {n}", obj={"amount": n}).id
            for n in range(count)
        ]
        db.session.commit()
    return ids


def walk(client, per_page: int) -> list[int]:
    seen, cursor = [], None
    while True:
        query = {"per_page": per_page} | ({"cursor": cursor} if cursor else {})
        page = client.get(API, query_string=query).json
        assert len(page["items"]) <= per_page
        seen += [row["id"] for row in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_every_discrepancy_newest_first_a_page_at_a_time(app, client, auth, book) -> None:
    ids = record(app, 7)
    auth.login(book.staff)
    for per_page in (1, 3, 7, 50):
        assert walk(client, per_page) == sorted(ids, reverse=True), per_page
    exactly = client.get(API, query_string={"per_page": 7}).json
    assert exactly["next_cursor"] is None
    assert client.get(API, query_string={"per_page": 6}).json["next_cursor"]
    assert client.get(API, query_string={"cursor": "nonsense"}).status_code == 422
    text = client.get(PAGE, query_string={"per_page": 3}).get_data(as_text=True)
    assert "odd webhook 6" in text and "odd webhook 3" not in text and "cursor=" in text
    summary = client.get("/finance/reconciliation").get_data(as_text=True)
    assert 'data-test="all-discrepancies"' in summary


def test_an_empty_list(client, auth, book) -> None:
    auth.login(book.staff)
    assert client.get(API).json == {"items": [], "per_page": 50, "next_cursor": None}
    assert "None recorded" in client.get(PAGE).get_data(as_text=True)


def test_only_platform_staff_read_them(client, auth, book) -> None:
    auth.login(book.people.finance)
    assert client.get(API).status_code == 403
    assert client.get(PAGE).status_code == 403


def test_the_statement_count_does_not_grow_with_the_rows(app, client, auth, book) -> None:
    from tests.sql_writes import statements_during

    record(app, 50)
    auth.login(book.staff)
    counts = []
    for per_page in (5, 50):
        for url in (API, PAGE):
            with statements_during(app) as seen:
                assert client.get(url, query_string={"per_page": per_page}).status_code == 200
            counts.append(len(seen))
    assert counts[:2] == counts[2:], counts
