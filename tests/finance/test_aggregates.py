"""The desk's aggregates are computed in SQL: they equal a re-computation in Python over every
transfer of a small book, on both databases."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select

import ledger
from ledger import utcnow
from marketplace.extensions import db
from marketplace.finance.access import ESCROW, RECEIVABLE
from tests.finance.conftest import post


def reverse(app, transfer_id: int, key: str) -> None:
    with app.app_context():
        ledger.reverse_transfer(db.session, transfer_id, key=key, recorded_by="test")
        db.session.commit()


def a_busier_book(app, book) -> None:
    """Payouts and value shares over several months and days, two of them reversed."""
    now = utcnow()
    cash = "asset:cash:stripe:usd"
    lead = f"liability:payable:solver:{book.lead_id}:usd"
    partner = f"liability:payable:solver:{book.partner_id}:usd"
    acme, rival = (f"{RECEIVABLE}{org}:usd" for org in (book.acme, book.rival))
    for n in range(12):
        when = now - timedelta(days=23 * n + n % 3)
        post(app, cash, book.acme_escrow, 1_000 + n, "FUND_ESCROW", f"f{n}", when=when)
        post(app, lead if n % 2 else partner, cash, 700 + n, "PAYOUT", f"p{n}", when=when)
        post(app, acme if n % 3 else rival, lead, 300 + n, "VALUE_SHARE", f"v{n}", when=when)
    with app.app_context():
        payout, share = (
            db.session.scalar(select(ledger.Transfer.id).where(ledger.Transfer.key == key))
            for key in ("p4", "v5")
        )
    reverse(app, payout, "undo-p4")
    reverse(app, share, "undo-v5")


def recomputed(app) -> tuple[dict, dict, dict]:
    """Escrow change per (currency, day), payouts per (currency, month), value shared per
    (currency, organization): loops over every transfer, as the dashboard once did."""
    with app.app_context():
        codes = dict(db.session.execute(select(ledger.Account.id, ledger.Account.code)).all())
        transfers = db.session.scalars(select(ledger.Transfer)).all()
    reversed_ids = {t.reverses_id for t in transfers if t.reverses_id}
    escrow: dict = defaultdict(int)
    payouts: dict = defaultdict(lambda: [0, 0])
    shared: dict = defaultdict(lambda: [0, 0])
    for t in transfers:
        if t.status != "posted":
            continue
        day = t.posted_at.date()
        escrow[t.currency, day] += t.amount * (
            codes[t.credit_account_id].startswith(ESCROW)
            - codes[t.debit_account_id].startswith(ESCROW)
        )
        if t.id in reversed_ids:
            continue
        if t.code == "PAYOUT":
            month = payouts[t.currency, day.replace(day=1)]
            month[0], month[1] = month[0] + t.amount, month[1] + 1
        debit = codes[t.debit_account_id]
        if t.code == "VALUE_SHARE" and debit.startswith(RECEIVABLE):
            org = shared[t.currency, int(debit.split(":")[3])]
            org[0], org[1] = org[0] + t.amount, org[1] + 1
    return escrow, payouts, shared


def test_the_charts_equal_a_recomputation_over_every_transfer(app, client, auth, book) -> None:
    a_busier_book(app, book)
    escrow, payouts, shared = recomputed(app)
    auth.login(book.staff)
    figures = client.get("/api/v1/finance/charts").json
    (usd,) = figures["escrow"]
    held = sum(escrow.values())
    assert usd["points"][-1]["amount"] == held
    for point in usd["points"]:
        upto = sum(a for (_, day), a in escrow.items() if day.isoformat() <= point["day"])
        assert point["amount"] == upto, point
    (bars,) = figures["payouts"]
    shown = {bar["label"]: (bar["amount"], bar["count"]) for bar in bars["bars"] if bar["count"]}
    expected = {m.strftime("%b %Y"): tuple(v) for (_, m), v in payouts.items()}
    assert shown == expected and len(shown) > 5
    (value,) = figures["value_shared"]
    names = {"Acme": book.acme}
    by_org = {
        names.get(bar["label"], book.rival): (bar["amount"], bar["count"]) for bar in value["bars"]
    }
    assert by_org == {org: tuple(v) for (_, org), v in shared.items()}


def test_the_dashboard_runs_the_same_statements_at_any_size(app, client, auth, book) -> None:
    from tests.sql_writes import statements_during

    auth.login(book.staff)
    with statements_during(app) as small:
        assert client.get("/finance/").status_code == 200
    a_busier_book(app, book)
    with statements_during(app) as large:
        assert client.get("/finance/").status_code == 200
    assert len(small) == len(large), (len(small), len(large))


def test_reconciliation_totals_equal_a_recomputation(app, client, auth, book) -> None:
    """Flows, in-flight payouts and other cash per currency, from loops over every row."""
    from marketplace.finance.reconciliation import FLOW_CODES, PAYMENT_FLOWS
    from marketplace.payments.models import Payment

    a_busier_book(app, book)
    cash = "asset:cash:stripe:usd"
    lead = f"liability:payable:solver:{book.lead_id}:usd"
    post(app, lead, cash, 900, "PAYOUT", "in-flight", pending=True)
    post(app, cash, "revenue:fees:usd", 77, "ADJUST", "odd")
    with app.app_context():
        cash_id = ledger.find_account(db.session, cash).id
        transfers = db.session.scalars(select(ledger.Transfer)).all()
        payments = db.session.scalars(select(Payment).where(Payment.status == "settled")).all()
    reversed_ids = {t.reverses_id for t in transfers if t.reverses_id}
    ledger_side: dict = defaultdict(int)
    other, flying = 0, [0, 0]
    for t in transfers:
        if cash_id not in (t.debit_account_id, t.credit_account_id):
            continue
        if t.code == "PAYOUT" and t.status == "pending":
            flying = [flying[0] + 1, flying[1] + t.amount]
        elif t.status == "posted" and t.code in FLOW_CODES.values() and t.id not in reversed_ids:
            ledger_side[t.code] += t.amount
        elif t.status == "posted":
            other += t.amount if t.debit_account_id == cash_id else -t.amount
    provider_side: dict = defaultdict(int)
    kinds = {kind.value: code for kind, code, _ in PAYMENT_FLOWS.values()}
    for payment in payments:
        provider_side[kinds[payment.kind]] += payment.amount
    auth.login(book.staff)
    (usd,) = client.get("/api/v1/finance/reconciliation").json["currencies"]
    flows = {flow["code"]: (flow["provider"], flow["ledger"]) for flow in usd["flows"]}
    assert flows == {code: (provider_side[code], ledger_side[code]) for code in flows}
    assert (usd["in_flight_count"], usd["in_flight_amount"]) == tuple(flying)
    assert usd["other_cash"] == other
    assert usd["difference_count"] >= len(usd["differences"]) > 0  # payouts no provider paid


def test_reconciliation_lists_a_capped_number_of_differences(
    app, client, auth, book, monkeypatch
) -> None:
    from marketplace.finance import reconciliation
    from tests.sql_writes import statements_during

    auth.login(book.staff)
    cash = "asset:cash:stripe:usd"
    counts = []
    for n in range(7):
        post(app, cash, book.acme_escrow, 10 + n, "FUND_ESCROW", f"unpaid:{n}")
        if n in (1, 6):
            with statements_during(app) as seen:
                client.get("/api/v1/finance/reconciliation")
            counts.append(len(seen))
    assert counts[0] == counts[1], counts
    monkeypatch.setattr(reconciliation, "LISTED", 3)
    (usd,) = client.get("/api/v1/finance/reconciliation").json["currencies"]
    missing = [d for d in usd["differences"] if d["kind"] == "missing_at_provider"]
    assert len(missing) == 3 and usd["difference_count"] == 7 + 1  # and the funding total
    page = client.get("/finance/reconciliation").get_data(as_text=True)
    assert 'data-test="differences-capped"' in page and "8 differences" in page
