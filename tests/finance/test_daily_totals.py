"""The dashboard sums closed days from ``ledger_daily_totals`` and reads the rest live: its
charts still equal a re-computation over every transfer after some days are filled and more
transfers arrive late (backdated, a pending one posted onto a filled day, a reversal of a
filled transfer), on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

import ledger
from ledger import utcnow
from marketplace.extensions import db
from marketplace.finance import daily_totals
from marketplace.finance.access import RECEIVABLE
from marketplace.finance.models import DailyTotal, DailyTotalsState
from tests.finance.conftest import post
from tests.finance.test_aggregates import a_busier_book, recomputed, reverse


def charts_equal_the_recomputation(app, client, book) -> None:
    escrow, payouts, shared = recomputed(app)
    figures = client.get("/api/v1/finance/charts").json
    (usd,) = figures["escrow"]
    for point in usd["points"]:
        upto = sum(a for (_, day), a in escrow.items() if day.isoformat() <= point["day"])
        assert point["amount"] == upto, point
    assert usd["points"][-1]["amount"] == sum(escrow.values())
    (bars,) = figures["payouts"]
    shown = {bar["label"]: (bar["amount"], bar["count"]) for bar in bars["bars"] if bar["count"]}
    assert shown == {m.strftime("%b %Y"): tuple(v) for (_, m), v in payouts.items()}
    (value,) = figures["value_shared"]
    by_org = {
        book.acme if bar["label"] == "Acme" else book.rival: (bar["amount"], bar["count"])
        for bar in value["bars"]
    }
    assert by_org == {org: tuple(v) for (_, org), v in shared.items()}


def fill(app) -> dict:
    with app.app_context():
        # The test's writes are all in its own transaction: every one of them is visible.
        return daily_totals.fill(written=utcnow())


def test_filled_days_and_late_transfers_add_up_to_the_live_book(app, client, auth, book) -> None:
    a_busier_book(app, book)
    auth.login(book.staff)
    charts_equal_the_recomputation(app, client, book)  # nothing filled: all live
    now = utcnow()
    filled = fill(app)
    assert filled["posted_before"] >= now.isoformat()
    with app.app_context():
        days = db.session.scalar(select(func.count(func.distinct(DailyTotal.day))))
        assert days >= 10  # a_busier_book's transfers span months
    charts_equal_the_recomputation(app, client, book)

    cash = "asset:cash:stripe:usd"
    lead = f"liability:payable:solver:{book.lead_id}:usd"
    acme = f"{RECEIVABLE}{book.acme}:usd"
    # Late onto filled days: backdated transfers, a pending payout posted three days ago,
    # and the reversal of a payout summed on a filled day.
    post(app, cash, book.acme_escrow, 5_000, "FUND_ESCROW", "late-fund", when=now - timedelta(40))
    post(app, acme, lead, 444, "VALUE_SHARE", "late-share", when=now - timedelta(days=10))
    pending = post(app, lead, cash, 333, "PAYOUT", "late-payout", pending=True)
    with app.app_context():
        ledger.post_pending(db.session, pending, at=now - timedelta(days=3))
        db.session.commit()
        old_payout = db.session.scalar(
            select(ledger.Transfer.id).where(ledger.Transfer.key == "p7")
        )
    reverse(app, old_payout, "undo-p7")
    post(app, acme, lead, 55, "VALUE_SHARE", "today-share")
    charts_equal_the_recomputation(app, client, book)  # late rows read live

    with app.app_context():
        late_payout = db.session.get(ledger.Transfer, pending)
        assert late_payout.posted_at.isoformat() < filled["posted_before"]
    fill(app)  # the late rows move in, and what was posted since
    with app.app_context():
        state = db.session.get(DailyTotalsState, 1)
        assert state.posted_before > now
        in_totals = db.session.scalar(
            select(func.sum(DailyTotal.count)).where(
                DailyTotal.measure == "transfers", DailyTotal.code == "PAYOUT"
            )
        )
        posted_payouts = db.session.scalar(
            select(func.count()).where(
                ledger.Transfer.code == "PAYOUT", ledger.Transfer.status == "posted"
            )
        )
        assert in_totals == posted_payouts  # the late pending payout is summed once
    charts_equal_the_recomputation(app, client, book)
    fill(app)  # again: nothing new, nothing counted twice
    charts_equal_the_recomputation(app, client, book)
    post(app, cash, book.rival_escrow, 66, "FUND_ESCROW", "after-the-fills")
    charts_equal_the_recomputation(app, client, book)


def test_the_dashboard_runs_the_same_statements_once_filled(app, client, auth, book) -> None:
    from tests.sql_writes import statements_during

    fill(app)
    auth.login(book.staff)
    with statements_during(app) as small:
        assert client.get("/finance/").status_code == 200
    a_busier_book(app, book)
    fill(app)
    with statements_during(app) as large:
        assert client.get("/finance/").status_code == 200
    assert len(small) == len(large) <= 30, (len(small), len(large))
