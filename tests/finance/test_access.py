"""Who sees what: platform staff everything; an organization's finance members and owners
their organization's accounts only (others' are 404); everyone else is refused."""

from __future__ import annotations

import html
import re

import pytest

API = "/api/v1/finance"


def test_acme_finance_sees_acme_escrow_only(client, auth, book) -> None:
    auth.login(book.people.finance)
    accounts = [a["code"] for a in client.get(f"{API}/accounts").json["items"]]
    assert accounts == [f"asset:receivable:org:{book.acme}:usd", book.acme_escrow]
    rows = client.get(f"{API}/transfers").json["items"]
    assert {r["code"] for r in rows} == {"FUND_ESCROW", "AWARD", "FEE"} and len(rows) == 4
    assert all(book.acme_escrow in (r["debit_account"], r["credit_account"]) for r in rows)
    statement = client.get(f"{API}/statement", query_string={"account": book.acme_escrow})
    assert statement.status_code == 200 and statement.json["balance"] == -550_000
    page = client.get("/finance/journal").get_data(as_text=True)
    assert book.acme_escrow in page and book.rival_escrow not in page
    assert 'data-test="finance-link"' in page


def test_acme_finance_gets_404_for_the_rivals_books(client, auth, book) -> None:
    auth.login(book.staff)
    rival_transfer = client.get(
        f"{API}/transfers", query_string={"account": book.rival_escrow}
    ).json["items"][0]["id"]
    auth.logout()
    auth.login(book.people.finance)
    for query in (
        {"account": book.rival_escrow},
        {"account": f"asset:receivable:org:{book.rival}:usd"},
    ):
        assert client.get(f"{API}/statement", query_string=query).status_code == 404
        assert client.get("/finance/statement", query_string=query).status_code == 404
        assert (
            client.get(f"{API}/balance", query_string={**query, "as_of": "2030-01-01"}).status_code
            == 404
        )
    assert client.get(f"{API}/transfers/{rival_transfer}").status_code == 404
    rivals = client.get(f"{API}/transfers", query_string={"account": book.rival_escrow})
    assert rivals.json["items"] == []


def test_acme_finance_never_sees_solver_payables(client, auth, book) -> None:
    auth.login(book.people.finance)
    payable = f"liability:payable:solver:{book.lead_id}:usd"
    assert client.get(f"{API}/statement", query_string={"account": payable}).status_code == 404
    everything = client.get(f"{API}/transfers", query_string={"per_page": 200}).get_data(
        as_text=True
    )
    accounts = client.get(f"{API}/accounts").get_data(as_text=True)
    assert "payable" not in accounts
    # award rows name the payable they credit, but a payable is never listed on its own
    assert len(client.get(f"{API}/transfers", query_string={"account": payable}).json["items"]) == 1
    assert "cash" in everything  # funding rows show the cash side of Acme's escrow


@pytest.mark.parametrize("who", ["finance", "owner"])
def test_organization_finance_and_owners_get_in(client, auth, book, who) -> None:
    auth.login(getattr(book.people, who))
    assert client.get("/finance/").status_code == 200
    assert client.get(f"{API}/charts").status_code == 200


@pytest.mark.parametrize("who", ["manager", "reviewer", "solver", "rival"])
def test_everyone_else_is_refused(client, auth, book, who) -> None:
    auth.login(getattr(book.people, who))
    for path in (
        "/finance/",
        "/finance/journal",
        "/finance/accounts",
        "/finance/charts/escrow.svg",
    ):
        assert client.get(path).status_code == 403, path
    for path in ("/transfers", "/accounts", "/charts", "/reconciliation"):
        answer = client.get(f"{API}{path}")
        assert answer.status_code == 403 and answer.json["status"] == 403
    assert 'data-test="finance-link"' not in client.get("/").get_data(as_text=True)


def test_organization_finance_is_refused_reconciliation_and_exports(client, auth, book) -> None:
    auth.login(book.people.finance)
    for path in ("/finance/reconciliation", "/finance/exports", "/finance/trial-balance"):
        assert client.get(path).status_code == 403
    for path in ("/reconciliation", "/exports"):
        assert client.get(f"{API}{path}").status_code == 403


def test_anonymous_is_sent_to_sign_in_or_gets_401(client, book) -> None:
    for path in (
        "/finance/",
        "/finance/journal",
        "/finance/reconciliation",
        "/finance/exports",
    ):
        answer = client.get(path)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    for path in ("/transfers", "/accounts", "/statement?account=x", "/reconciliation", "/charts"):
        assert client.get(f"{API}{path}").status_code == 401


def test_the_journal_links_only_the_statements_its_reader_may_open(client, auth, book) -> None:
    """An organization's transfer names the other side (the platform's cash, a solver's
    payable); that side is shown but not linked, and every link the page gives opens."""
    auth.login(book.people.finance)
    page = client.get("/finance/journal", query_string={"per_page": 200}).get_data(as_text=True)
    links = set(re.findall(r'href="(/finance/statement\?account=[^"]+)"', page))
    assert links and all(client.get(html.unescape(link)).status_code == 200 for link in links)
    assert "liability:payable:solver:" in page and "statement?account=liability:payable" not in page
    auth.logout()
    auth.login(book.staff)
    page = client.get("/finance/journal", query_string={"per_page": 200}).get_data(as_text=True)
    assert "statement?account=liability:payable:solver:" in page
