"""Reconciliation: the provider's settled payments and paid payout lines against the cash
account; clean on a consistent book, every difference listed otherwise. (The provider's own
transfers against the payout lines: tests/payouts/test_provider_reconciliation.py.)"""

from __future__ import annotations

from ledger import utcnow
from marketplace.extensions import db
from marketplace.payments.models import Payment
from marketplace.payouts.models import PayoutAccount, PayoutBatch, PayoutLine
from tests.challenges.conftest import user
from tests.finance.conftest import post

API = "/api/v1/finance/reconciliation"
CASH = "asset:cash:stripe:usd"


def usd(client) -> dict:
    report = client.get(API).json
    return next(c for c in report["currencies"] if c["currency"] == "USD")


def flows(item: dict) -> dict[str, tuple[int, int]]:
    return {f["name"]: (f["provider"], f["ledger"]) for f in item["flows"]}


def test_a_consistent_book_is_clean(client, auth, book) -> None:
    auth.login(book.staff)
    report = client.get(API).json
    assert report["clean"] is True
    item = usd(client)
    assert flows(item)["funding"] == (3_300_000, 3_300_000)
    assert item["differences"] == [] and item["cash_balance"] == 3_300_000
    assert item["provider_net"] == item["ledger_net"] == 3_300_000
    page = client.get("/finance/reconciliation").get_data(as_text=True)
    assert 'data-test="clean"' in page


def test_a_settled_payment_without_a_ledger_transfer_is_listed(app, client, auth, book) -> None:
    with app.app_context():
        payment = Payment(
            kind="funding", challenge_id=book.acme_need, amount=12_345, currency="USD",
            provider="stripe", status="settled", external_id="cs_test_lost", settled_at=utcnow(),
        )  # fmt: skip
        db.session.add(payment)
        db.session.commit()
        payment_id = payment.id
    post(app, CASH, book.acme_escrow, 500, "FUND_ESCROW", "manual:funding")
    auth.login(book.staff)
    item = usd(client)
    assert flows(item)["funding"] == (3_312_345, 3_300_500)
    kinds = {d["kind"]: d for d in item["differences"]}
    assert set(kinds) == {"missing_in_ledger", "missing_at_provider", "total_differs"}
    assert kinds["missing_in_ledger"]["payment_id"] == payment_id
    assert kinds["missing_in_ledger"]["amount"] == 12_345
    assert "no ledger transfer" in kinds["missing_in_ledger"]["message"]
    assert kinds["missing_at_provider"]["amount"] == 500
    assert kinds["total_differs"]["amount"] == 11_845
    page = client.get("/finance/reconciliation").get_data(as_text=True)
    assert f"funding payment {payment_id} (stripe) is settled" in page


def test_payouts_match_by_their_transfer(app, client, auth, book) -> None:
    payable = f"liability:payable:solver:{book.lead_id}:usd"
    paid = post(app, payable, CASH, 100_000, "PAYOUT", "payout:1", pending=True)
    flying = post(app, payable, CASH, 50_000, "PAYOUT", "payout:2", pending=True)
    stuck = post(app, payable, CASH, 25_000, "PAYOUT", "payout:3", pending=True)
    with app.app_context():
        import ledger

        ledger.post_pending(db.session, paid)
        solver, staff = user(book.people.solver), user(book.staff)
        account = PayoutAccount(user_id=solver.id, provider="sandbox", external_id="acct_1")
        batch = PayoutBatch(currency="USD", minimum=0, prepared_by_id=staff.id)
        db.session.add_all([account, batch])
        db.session.flush()
        partner = user(book.people.other_solver)
        for transfer_id, amount, status, external, who in (
            (paid, 100_000, "paid", "tr_1", solver), (flying, 50_000, "sending", None, staff),
            (stuck, 25_000, "paid", "tr_3", partner),
        ):  # fmt: skip
            db.session.add(
                PayoutLine(
                    batch_id=batch.id, user_id=who.id,
                    payout_account_id=account.id, amount=amount, currency="USD",
                    transfer_id=transfer_id, status=status, provider_transfer_id=external,
                )
            )  # fmt: skip
        db.session.commit()
    auth.login(book.staff)
    item = usd(client)
    assert flows(item)["payouts"] == (125_000, 100_000)
    assert (item["in_flight_count"], item["in_flight_amount"]) == (2, 75_000)
    missing = [d for d in item["differences"] if d["kind"] == "missing_in_ledger"]
    assert [d["transfer_id"] for d in missing] == [stuck]
    assert "is pending" in missing[0]["message"]


def test_only_platform_staff_reconcile(client, auth, book) -> None:
    auth.login(book.people.finance)
    assert client.get(API).status_code == 403


def lost_payment(app, book, amount: int, external: str) -> int:
    with app.app_context():
        payment = Payment(
            kind="funding", challenge_id=book.acme_need, amount=amount, currency="USD",
            provider="stripe", status="settled", external_id=external, settled_at=utcnow(),
        )  # fmt: skip
        db.session.add(payment)
        db.session.commit()
        return payment.id


def test_the_statements_are_the_same_with_and_without_differences(
    app, client, auth, book, monkeypatch
) -> None:
    """A clean book and one with differences of every kind run the same statements (the items
    of a kind are read whether or not there are any), and a kind's count and first items come
    from one statement: the count covers what is not listed."""
    from marketplace.finance import reconciliation
    from tests.sql_writes import statements_during

    auth.login(book.staff)
    with statements_during(app) as clean:
        assert client.get(API).json["clean"] is True
    first = lost_payment(app, book, 12_345, "cs_test_lost_1")
    lost_payment(app, book, 678, "cs_test_lost_2")
    post(app, CASH, book.acme_escrow, 500, "FUND_ESCROW", "manual:funding")
    monkeypatch.setattr(reconciliation, "LISTED", 1)
    with statements_during(app) as differing:
        item = usd(client)
    assert len(clean) == len(differing), (len(clean), len(differing))
    missing = [d for d in item["differences"] if d["kind"] == "missing_in_ledger"]
    assert [d["payment_id"] for d in missing] == [first]
    assert item["difference_count"] == 2 + 1 + 1  # two payments, the transfer, the total
