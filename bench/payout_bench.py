"""Preparing and paying a batch of 10,000 payouts against the local fake Stripe server.

    python bench/payout_bench.py [--payouts N] [--onboard K] [--rate-limit R]

The database comes from BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test):
a throw-away schema ``bench_<random>``, migrated to head and dropped at the end. Stripe is
``tests/payments/stripe_server.py``'s FakeStripe on 127.0.0.1, which the real stripe SDK talks
to over HTTP (STRIPE_API_BASE), as in the payout tests.

Set-up (not the measured part, but its times are printed):
- N solvers and two platform finance users, bulk-inserted with one password hash;
- an escrow funded from cash, then N AWARD transfers escrow -> each solver's payable
  (``marketplace.finance.chart.payable``), in journals of 2,500;
- each solver's payout account. The first K (``--onboard``, default 200) open theirs through
  ``marketplace.payouts.accounts.start_onboarding`` (a Connect account and its onboarding link
  from the fake server: two HTTP requests and a commit each), then Stripe enables them the way
  its ``account.updated`` webhook does (``FakeStripe.enable_payouts`` + ``account_updated``).
  Onboarding all 10,000 that way takes minutes (~16 ms each here), so the others' enabled
  Connect accounts are made directly in the fake server's ``accounts`` and their PayoutAccount
  rows bulk-inserted; ``--onboard N`` onboards everyone through the service.
Measured:
- prepare: ``prepare_batch(finance, "USD", 1)``: one journal of N pending PAYOUT transfers;
- send: ``approve_batch`` by the second finance user, whose job (run inline: no REDIS_URL)
  sends every line through the stripe SDK (one HTTP request each): each line is claimed and
  committed before its call, then settled in a second short transaction (``mark_paid``: the
  ledger's ``post_pending``, and the batch row locked to see whether it is complete). The time
  is split into the Stripe calls (SDK + HTTP + fake server), ``mark_paid`` and the rest (the
  claim and its commit, the settling commit).
- ``--rate-limit R``: the fake answers 429 (Retry-After: 1) beyond R requests a second per
  endpoint, as Stripe does; the job pauses for the Retry-After and tries the line again, so
  every line is still paid once. The number of 429s is printed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the working tree's ledger, marketplace and tests

from sqlalchemy import func, insert, select  # noqa: E402

import ledger  # noqa: E402
from bench.ledger_bench import DEFAULT_URL, bench_schema, migrate_to_head  # noqa: E402
from ledger import NewTransfer, utcnow  # noqa: E402
from marketplace import create_app  # noqa: E402
from marketplace.accounts.models import User  # noqa: E402
from marketplace.accounts.passwords import hash_password  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.finance import chart  # noqa: E402
from marketplace.payouts import accounts as payout_accounts  # noqa: E402
from marketplace.payouts import sending  # noqa: E402
from marketplace.payouts.batches import approve_batch, prepare_batch  # noqa: E402
from marketplace.payouts.models import BatchStatus, LineStatus, PayoutAccount, PayoutLine  # noqa: E402
from tests.payments.stripe_server import FakeStripe  # noqa: E402

PAYOUTS = 10_000
AWARD_JOURNAL = 2_500  # award transfers per journal while setting up
ONBOARD = 200  # solvers onboarded through the service; the others' accounts are inserted
BENCH_CHALLENGE = 1  # the escrow's challenge number (no challenge row is needed for the book)


@contextmanager
def timed(times: dict[str, float], label: str) -> Iterator[None]:
    """Keep how long the block took in ``times[label]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        times[label] = time.perf_counter() - start


def add_users(count: int) -> tuple[User, User, list[int]]:
    """Two platform finance users and ``count`` solvers, one password hash for all."""
    password = hash_password("bench-password")
    now = utcnow()
    rows = [
        {"email": f"finance{n}@platform.bench", "name": f"Finance {n}", "is_platform_finance": True}
        for n in (1, 2)
    ] + [{"email": f"solver{n}@solver.bench", "name": f"Solver {n}"} for n in range(count)]
    for row in rows:
        row.update(password_hash=password, created_at=now)
    returning = insert(User).returning(User.id, sort_by_parameter_order=True)
    ids = list(db.session.scalars(returning, rows))
    db.session.commit()
    first, second = db.session.get(User, ids[0]), db.session.get(User, ids[1])
    return first, second, ids[2:]


def owe(solver_ids: list[int]) -> int:
    """Fund an escrow and award each solver an uneven amount; returns the total owed."""
    s = db.session
    cash, escrow = chart.cash(s, "USD"), chart.escrow(s, BENCH_CHALLENGE, "USD")
    payables = chart.payables(s, solver_ids, "USD")
    amounts = {uid: 1_000 + (uid * 7_919) % 99_000 for uid in solver_ids}
    total = sum(amounts.values())
    ledger.post_transfer(
        s, debit=cash.id, credit=escrow.id, amount=total, code="FUND_ESCROW",
        key="bench:fund", recorded_by="bench", reference=f"challenge:{BENCH_CHALLENGE}",
    )  # fmt: skip
    for start in range(0, len(solver_ids), AWARD_JOURNAL):
        batch = [
            NewTransfer(escrow.id, payables[uid], amounts[uid], "AWARD", "bench-award")
            for uid in solver_ids[start : start + AWARD_JOURNAL]
        ]
        ledger.post_journal(s, batch, key=f"bench:award:{start}", recorded_by="bench")
    s.commit()
    return total


def onboard(app, fake: FakeStripe, solver_ids: list[int]) -> None:
    """Each solver opens a payout account through the service; Stripe then enables it."""
    with app.test_request_context():
        for uid in solver_ids:
            account, _ = payout_accounts.start_onboarding(db.session.get(User, uid))
            enabled = fake.enable_payouts(account.external_id)
            payout_accounts.account_updated(enabled, fake.event("account.updated", enabled))


def onboard_directly(fake: FakeStripe, solver_ids: list[int]) -> None:
    """Enabled Connect accounts made in the fake server's memory, and their rows in bulk."""
    now = utcnow()
    rows = []
    for uid in solver_ids:
        account_id = f"acct_{secrets.token_hex(12)}"
        fake.accounts[account_id] = {
            "id": account_id, "object": "account", "type": "express", "payouts_enabled": True,
            "details_submitted": True, "charges_enabled": True,
            "capabilities": {"transfers": "active"}, "metadata": {"user_id": str(uid)},
        }  # fmt: skip
        rows.append(
            {"user_id": uid, "provider": "stripe", "external_id": account_id,
             "payouts_enabled": True, "details_submitted": True, "created_at": now,
             "updated_at": now}
        )  # fmt: skip
    db.session.execute(insert(PayoutAccount), rows)
    db.session.commit()


@contextmanager
def timed_sending() -> Iterator[dict[str, float]]:
    """Add up the time ``send_batch`` spends in Stripe calls and in ``mark_paid``."""
    parts = {"stripe": 0.0, "mark_paid": 0.0}
    real_provider, real_mark_paid = sending.current_provider, sending.mark_paid

    def timing(name: str, function):
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                parts[name] += time.perf_counter() - start

        return run

    def provider():
        chosen = real_provider()
        chosen.send_payout = timing("stripe", chosen.send_payout)
        return chosen

    sending.current_provider, sending.mark_paid = provider, timing("mark_paid", real_mark_paid)
    try:
        yield parts
    finally:
        sending.current_provider, sending.mark_paid = real_provider, real_mark_paid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payouts", type=int, default=PAYOUTS, help="solvers to pay")
    parser.add_argument(
        "--onboard", type=int, default=ONBOARD,
        help="solvers who onboard through the service (the others' accounts are inserted)",
    )  # fmt: skip
    parser.add_argument(
        "--rate-limit", type=float, default=None, metavar="R",
        help="the fake answers 429 beyond R requests a second per endpoint (Stripe: 25 in test "
        "mode)",
    )  # fmt: skip
    options = parser.parse_args()
    count = options.payouts
    base_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    times: dict[str, float] = {}
    fake = FakeStripe().start()
    try:
        with bench_schema(base_url) as (schema, url):
            migrate_to_head(url)
            app = create_app(
                {
                    "SECRET_KEY": "bench",
                    "SQLALCHEMY_DATABASE_URI": url,
                    "REDIS_URL": None,  # jobs run inline: approving sends the batch
                    "RATELIMIT_STORAGE_URI": "memory://",
                    "STRIPE_SECRET_KEY": "sk_test_bench",
                    "STRIPE_API_BASE": fake.url,
                }
            )
            print(f"schema {schema}, fake Stripe at {fake.url}", flush=True)
            print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
            with app.app_context():
                with timed(times, "users"):
                    preparer, approver, solver_ids = add_users(count)
                with timed(times, "owed"):
                    total = owe(solver_ids)
                onboarded = min(options.onboard, count)
                with timed(times, "onboard"):
                    onboard(app, fake, solver_ids[:onboarded])
                with timed(times, "insert"):
                    onboard_directly(fake, solver_ids[onboarded:])
                each = times["onboard"] / max(onboarded, 1) * 1000
                print(
                    f"set-up: {count:,} solvers {times['users']:.1f} s, owed "
                    f"{ledger.format_minor(total, 'USD', grouped=True)} USD "
                    f"{times['owed']:.1f} s; payout accounts: {onboarded:,} onboarded "
                    f"through the service {times['onboard']:.1f} s ({each:.0f} ms each), "
                    f"{count - onboarded:,} inserted {times['insert']:.1f} s",
                    flush=True,
                )
                with timed(times, "prepare"):
                    batch = prepare_batch(preparer, "USD", 1)
                batch_id, lines = batch.id, batch.line_count
                elapsed = times["prepare"]
                print(
                    f"prepare {lines:,} payouts: {elapsed:.1f} s ({lines / elapsed:,.0f} lines/s)",
                    flush=True,
                )
                before = len(fake.transfers)
                fake.rate_limit(options.rate_limit)
                with timed(times, "send"), timed_sending() as parts:
                    approve_batch(approver, batch_id)
                elapsed = times["send"]
                made = len(fake.transfers) - before
                limited = sum(1 for r in fake.requests if r.status == 429)
                print(
                    f"send {lines:,} payouts: {elapsed:.1f} s ({lines / elapsed:,.0f} transfers/s)"
                    f"; Stripe calls {parts['stripe']:.1f} s, mark_paid (post_pending) "
                    f"{parts['mark_paid']:.1f} s, the rest (line loads, commits) "
                    f"{elapsed - parts['stripe'] - parts['mark_paid']:.1f} s",
                    flush=True,
                )
                if options.rate_limit:
                    print(f"rate limit {options.rate_limit:g} requests/s: {limited:,} answers 429")
                db.session.expire_all()
                paid = db.session.scalar(
                    select(func.count(PayoutLine.id)).where(
                        PayoutLine.batch_id == batch_id, PayoutLine.status == LineStatus.PAID
                    )
                )
                status = db.session.get(type(batch), batch_id).status
                print(f"transfers created by the fake Stripe server: {made:,}")
                print(f"lines paid: {paid:,}, batch {status}")
                problems = ledger.verify(db.session)
                print("ledger verify: " + ("ok" if not problems else f"{len(problems)} problems"))
                print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
                db.session.remove()
                db.engine.dispose()
            failures = []
            if lines != count or made != count or paid != count:
                failures.append(f"expected {count} lines, transfers and paid lines")
            if status != BatchStatus.COMPLETED:
                failures.append(f"batch is {status}, not completed")
            if problems:
                failures.append(f"the book does not verify: {problems[:3]}")
            if failures:
                raise SystemExit("; ".join(failures))
    finally:
        fake.stop()


if __name__ == "__main__":
    sys.exit(main())
