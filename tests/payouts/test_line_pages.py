"""A batch's lines a page at a time (keyset, in id order) on the batch page and in the API;
the page's progress comes from one grouped query, so neither the HTML page nor the API costs
more statements with 50 lines than with 5."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

import ledger
from ledger import Transfer, TransferStatus
from marketplace.extensions import db
from marketplace.payouts import batches
from marketplace.payouts.models import BatchStatus, LineStatus, PayoutBatch, PayoutLine
from tests.challenges.conftest import user
from tests.challenges.test_api import bearer, token_for
from tests.factories import UserFactory
from tests.payouts.worlds import _connect_accounts, _owe
from tests.sql_writes import statements_during

PAGE = "/finance/payouts"
API = "/api/v1/payout-batches"


def batch_of(app, stripe_server, finance, count: int, who: str = "solver") -> tuple[int, list[int]]:
    """A prepared batch paying ``count`` new solvers: (batch id, its line ids in order)."""
    with app.app_context():
        solvers = [UserFactory(email=f"{who}{n}@example.com").id for n in range(count)]
        _owe(solvers, f"test:fund:{who}")
        _connect_accounts(stripe_server, solvers)
        db.session.commit()
        batch = batches.prepare_batch(user(finance.preparer), "USD", 1)
        line_ids = db.session.scalars(
            select(PayoutLine.id).where(PayoutLine.batch_id == batch.id).order_by(PayoutLine.id)
        ).all()
        return batch.id, list(line_ids)


def shown_lines(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-test="line-(\d+)"', html)]


def next_link(html: str) -> str | None:
    found = re.search(r'data-test="next" rel="next" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_batch_page_walks_its_lines_a_page_at_a_time(app, client, auth, stripe_server, finance):
    batch_id, line_ids = batch_of(app, stripe_server, finance, 5)
    auth.login(finance.preparer)
    seen, url = [], f"{PAGE}/{batch_id}?per_page=2"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        seen.append(shown_lines(html))
        url = next_link(html)
    assert seen == [line_ids[:2], line_ids[2:4], line_ids[4:]]
    whole = client.get(f"{PAGE}/{batch_id}?per_page=5").get_data(as_text=True)
    assert shown_lines(whole) == line_ids and next_link(whole) is None  # exactly one page
    default = client.get(f"{PAGE}/{batch_id}").get_data(as_text=True)
    assert shown_lines(default) == line_ids and 'data-test="pager"' not in default
    for bad in ({"cursor": "not-a-cursor"}, {"per_page": "0"}, {"per_page": "201"}):
        assert client.get(f"{PAGE}/{batch_id}", query_string=bad).status_code == 422


def test_the_api_lists_a_batchs_lines_by_cursor(app, client, stripe_server, finance):
    batch_id, line_ids = batch_of(app, stripe_server, finance, 5)
    headers = bearer(token_for(app, finance.preparer))
    seen, cursor = [], None
    while True:
        query = {"per_page": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"{API}/{batch_id}/lines", query_string=query, headers=headers)
        assert page.status_code == 200, page.json
        seen.append([line["id"] for line in page.json["items"]])
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
    assert seen == [line_ids[:2], line_ids[2:4], line_ids[4:]]
    exact = client.get(f"{API}/{batch_id}/lines?per_page=5", headers=headers).json
    assert [line["id"] for line in exact["items"]] == line_ids and exact["next_cursor"] is None
    detail = client.get(f"{API}/{batch_id}", headers=headers).json
    assert [line["id"] for line in detail["lines"]] == line_ids
    assert detail["lines_next_cursor"] is None and detail["progress"]["counts"]["reserved"] == 5
    bad = client.get(f"{API}/{batch_id}/lines?cursor=xyz", headers=headers)
    assert bad.status_code == 422 and "cursor" in str(bad.json)
    assert client.get(f"{API}/{batch_id}/lines?per_page=0", headers=headers).status_code == 422
    assert client.get(f"{API}/999999/lines", headers=headers).status_code == 404
    solver = bearer(token_for(app, "solver0@example.com"))
    assert client.get(f"{API}/{batch_id}/lines", headers=solver).status_code == 403


@pytest.mark.parametrize(
    "path",
    [f"{PAGE}/{{batch}}", f"{API}/{{batch}}", f"{API}/{{batch}}/lines"],
    ids=["page", "api-detail", "api-lines"],
)
def test_statements_do_not_grow_with_the_lines_shown(
    app, client, auth, stripe_server, finance, path
):
    """The page shows every line of a batch of 5 and of 50 (the default page is 50), with
    solver, payout account and releaser: the same number of statements."""
    counted = {}
    headers = bearer(token_for(app, finance.preparer))
    auth.login(finance.preparer)
    for count in (5, 50):
        batch_id, line_ids = batch_of(app, stripe_server, finance, count, f"s{count}-")
        with app.app_context():
            db.session.execute(  # one released line: its releaser is shown too
                PayoutLine.__table__.update()
                .where(PayoutLine.id == line_ids[0])
                .values(released_by_id=user(finance.approver).id)
            )
            db.session.commit()
        url = path.format(batch=batch_id)
        client.get(url, headers=headers)  # warm: the first request loads what is cached
        with statements_during(app) as statements:
            answer = client.get(url, headers=headers)
        assert answer.status_code == 200
        text = answer.get_data(as_text=True)
        assert all(f"s{count}-{n}@example.com" in text for n in range(count))
        counted[count] = len(statements)
    assert counted[5] == counted[50], counted


def test_rejecting_voids_every_hold_in_statements_that_do_not_grow_with_the_lines(
    app, stripe_server, finance
):
    """A rejected batch of 5 and of 50 lines: every reservation voided and every line marked,
    the book still verifies, in the same number of statements."""
    counted = {}
    for count in (5, 50):
        batch_id, line_ids = batch_of(app, stripe_server, finance, count, f"r{count}-")
        with app.app_context():
            with statements_during(app) as statements:
                batches.reject_batch(user(finance.approver), batch_id, "Wrong month")
            counted[count] = len(statements)
            lines = db.session.scalars(select(PayoutLine).where(PayoutLine.id.in_(line_ids)))
            holds = [line.transfer_id for line in lines if line.status == LineStatus.VOIDED]
            assert len(holds) == len(line_ids) >= count
            statuses = db.session.scalars(select(Transfer.status).where(Transfer.id.in_(holds)))
            assert set(statuses) == {TransferStatus.VOIDED}
            assert db.session.get(PayoutBatch, batch_id).status == BatchStatus.REJECTED
            assert ledger.verify(db.session) == []
    assert counted[5] == counted[50], counted
