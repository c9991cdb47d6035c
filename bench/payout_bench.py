"""Preparing and paying a batch of payouts against the local fake Stripe server.

    python bench/payout_bench.py [--payouts N] [--onboard K] [--rate-limit R] [--rate P]
    python bench/payout_bench.py --prepare-reports 221000 [--payouts N]
    python bench/payout_bench.py --schema scale_l [--minimum M]

The targets (issue 10): ``--payouts 1000 --rate-limit 25`` finishes sending in <= 50 s with 0
failed lines and 0 duplicates; ``--prepare-reports 221000`` prepares a batch in <= 5 s.

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
  endpoint, as Stripe does; the sender keeps to ``--rate`` (PAYOUT_RATE_PER_SECOND, default
  25) and sends a 429'd request again after its Retry-After, so every line is still paid
  once. The number of 429s is printed, and duplicates are counted at the fake: transfers per
  line (their metadata) and transfers created per idempotency key.

``--prepare-reports N`` measures preparation instead (no sending): besides the N solvers owed,
N value reports are bulk-inserted with set-based statements (foreign-key triggers off for the
insert: awards and journals are not made; the book's VALUE_SHARE journals are not posted, only
the rows payout preparation reads): each report shares its amount between two solvers; most
are paid in full, some in part, some not at all, and every tenth is withdrawn and corrected by
the next. Printed: the dues query, ``payable_candidates`` (the preview), ``prepare_batch``, and
the per-report computation of before (``value_share_due`` per report) timed on a sample and
extrapolated.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the working tree's ledger, marketplace and tests

import pyotp  # noqa: E402
from sqlalchemy import func, insert, make_url, select, text  # noqa: E402

import ledger  # noqa: E402
from bench.ledger_bench import DEFAULT_URL, bench_schema, migrate_to_head, psycopg_url  # noqa: E402
from ledger import NewTransfer, utcnow  # noqa: E402
from marketplace import create_app  # noqa: E402
from marketplace.accounts import second_factor  # noqa: E402
from marketplace.accounts.models import User  # noqa: E402
from marketplace.accounts.passwords import hash_password  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.finance import chart  # noqa: E402
from marketplace.payouts import accounts as payout_accounts  # noqa: E402
from marketplace.payouts import sending  # noqa: E402
from marketplace.payouts.batches import (  # noqa: E402
    approve_batch,
    payable_candidates,
    prepare_batch,
)
from marketplace.payouts.models import BatchStatus, LineStatus, PayoutAccount, PayoutLine  # noqa: E402
from marketplace.value.dues import dues, unfunded_shares, value_share_due  # noqa: E402
from marketplace.value.models import ValueReport  # noqa: E402
from tests.payments.stripe_server import FakeStripe  # noqa: E402

PAYOUTS = 10_000
AWARD_JOURNAL = 2_500  # award transfers per journal while setting up
ONBOARD = 200  # solvers onboarded through the service; the others' accounts are inserted
BEFORE_SAMPLE = 2_000  # reports the per-report computation of before is timed on
BENCH_CHALLENGE = 1  # the escrow's challenge number (no challenge row is needed for the book)
BENCH_TOTP_SECRET = pyotp.random_base32()  # the finance users' second factor


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
    for staff in (first, second):  # platform finance staff need one
        second_factor.enrol(staff, BENCH_TOTP_SECRET)
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


VALUE_REPORTS_SQL = """
INSERT INTO value_reports (id, award_id, organization_id, period_start, period_end,
    value_amount, currency, share_bp, share_amount, shares, weights, evidence, journal_id,
    status, corrects_id, reported_by_id, reported_at, reversal_reason)
SELECT n, 1, 1, DATE '2025-01-01', DATE '2025-01-31', 100000 + n % 997 * 100, 'USD', 500,
    (100000 + n % 997 * 100) / 20,
    json_build_object(s1::text, (100000 + n % 997 * 100) / 40,
                      s2::text, (100000 + n % 997 * 100) / 20 - (100000 + n % 997 * 100) / 40),
    json_build_object(s1::text, 5000, s2::text, 5000),
    'bench', n, CASE WHEN n % 10 = 1 THEN 'reversed' ELSE 'posted' END,
    CASE WHEN n % 10 = 2 THEN n - 1 END, 1, now(), ''
FROM (SELECT n, :first + n % :solvers AS s1, :first + (n * 7 + 3) % :solvers AS s2
      FROM generate_series(1, :reports) AS n) AS r
"""
#: Paid in full (7 in 10), in part (1 in 10), not at all (1 in 10), and the withdrawn
#: report paid before its correction.
PAYMENTS_SQL = """
INSERT INTO payments (kind, challenge_id, amount, currency, provider, status, value_report_id,
    created_at)
SELECT 'value_share', 1,
    CASE WHEN id % 10 = 3 THEN share_amount / 3 ELSE share_amount END, 'USD', 'sandbox',
    CASE WHEN id % 10 = 5 THEN 'pending' ELSE 'settled' END, id, now()
FROM value_reports WHERE id % 10 NOT IN (2, 4)
"""


def add_value_reports(count: int, solver_ids: list[int]) -> None:
    """``count`` value reports and their payments, set-based, foreign-key triggers off."""
    s = db.session
    s.execute(text("SET LOCAL session_replication_role = replica"))
    first, solvers = min(solver_ids), len(solver_ids)
    s.execute(text(VALUE_REPORTS_SQL), {"first": first, "solvers": solvers, "reports": count})
    s.execute(text(PAYMENTS_SQL))
    s.commit()
    # A live database's autovacuum has set the hint bits and statistics long since.
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.execute(text("VACUUM ANALYZE value_reports"))
        connection.execute(text("VACUUM ANALYZE payments"))


def bench_prepare(app, options, preparer_id: int, solver_ids: list[int]) -> None:
    """Preparation over many value reports: the dues, the preview, Prepare; and before."""
    times: dict[str, float] = {}
    with timed(times, "insert"):
        add_value_reports(options.prepare_reports, solver_ids)
    print(f"inserted {options.prepare_reports:,} value reports and their payments "
          f"{times['insert']:.1f} s", flush=True)  # fmt: skip
    db.session.remove()
    with timed(times, "dues"):
        owed = dues("USD")
    with timed(times, "unfunded"):
        held = unfunded_shares("USD")
    db.session.remove()
    with timed(times, "preview"):
        candidates = payable_candidates("USD", 1)
    db.session.remove()
    with timed(times, "prepare"):
        batch = prepare_batch(db.session.get(User, preparer_id), "USD", 1)
    print(
        f"dues of {options.prepare_reports:,} value reports: {times['dues']:.2f} s "
        f"({len(owed):,} with something due); unfunded shares of {len(held):,} solvers: "
        f"{times['unfunded']:.2f} s"
    )
    print(f"preview (payable_candidates): {times['preview']:.2f} s, {len(candidates):,} payable")
    print(f"PREPARE over {options.prepare_reports:,} value reports: {times['prepare']:.2f} s "
          f"({batch.line_count:,} lines) [target <= 5 s]", flush=True)  # fmt: skip
    sample = list(
        db.session.scalars(
            select(ValueReport.id).where(ValueReport.status == "posted").limit(BEFORE_SAMPLE)
        )
    )
    db.session.remove()
    with timed(times, "before"):
        for report_id in sample:
            value_share_due(report_id)
    posted = db.session.scalar(
        select(func.count(ValueReport.id)).where(ValueReport.status == "posted")
    )
    each = times["before"] / max(len(sample), 1)
    print(
        f"before (value_share_due per report, now with the index): {each * 1000:.2f} ms each "
        f"on {len(sample):,} reports -> ~{each * posted:.0f} s for {posted:,} posted reports"
    )


def bench_existing(base_url: str, schema: str, minimum: int) -> None:
    """Dues, preview and Prepare on an existing database (``bench/seed_scale.py``'s
    ``scale_l``), all in one transaction rolled back at the end: nothing is kept."""
    from tests.conftest import ConnectionBoundSession

    url = make_url(psycopg_url(base_url)).update_query_dict({"options": f"-csearch_path={schema}"})
    app = create_app(
        {
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False),
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    times: dict[str, float] = {}
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        db.session = db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint",
             "class_": ConnectionBoundSession}
        )  # fmt: skip
        try:
            reports = db.session.scalar(select(func.count(ValueReport.id)))
            finance = db.session.scalar(select(User).where(User.is_platform_finance.is_(True)))
            print(f"schema {schema}: {reports:,} value reports", flush=True)
            with timed(times, "dues"):
                owed = dues("USD")
            with timed(times, "preview"):
                candidates = payable_candidates("USD", minimum)
            print(f"dues: {times['dues']:.2f} s ({len(owed):,} reports with something due)")
            print(f"preview (payable_candidates): {times['preview']:.2f} s, "
                  f"{len(candidates):,} payable", flush=True)  # fmt: skip
            with timed(times, "prepare"):
                batch = prepare_batch(finance, "USD", minimum)
            print(f"PREPARE over {reports:,} value reports: {times['prepare']:.2f} s "
                  f"({batch.line_count:,} lines; rolled back) [target <= 5 s]")  # fmt: skip
        finally:
            db.session.remove()
            outer.rollback()
            connection.close()
            db.engine.dispose()


def count_duplicates(fake: FakeStripe) -> tuple[int, int]:
    """(transfers beyond one per payout line, transfers beyond one per idempotency key)."""
    per_line = Counter(t["metadata"].get("payout_line_id") for t in fake.transfers.values())
    per_key = Counter(r.idempotency_key for r in fake.posts("/v1/transfers"))
    return sum(n - 1 for n in per_line.values()), sum(n - 1 for n in per_key.values())


def busiest_second(fake: FakeStripe) -> int:
    """The most requests to /v1/transfers the fake received within one second."""
    moments = sorted(r.received_at for r in fake.requests if r.path == "/v1/transfers")
    most, start = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


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
    parser.add_argument(
        "--rate", type=float, default=25.0, metavar="P",
        help="PAYOUT_RATE_PER_SECOND: the sender's pace (default 25)",
    )  # fmt: skip
    parser.add_argument(
        "--prepare-reports", type=int, default=0, metavar="N",
        help="measure preparation over N bulk-inserted value reports instead of sending",
    )  # fmt: skip
    parser.add_argument(
        "--schema", default=None, metavar="S",
        help="measure dues, preview and Prepare (rolled back) on an existing schema, e.g. "
        "scale_l from bench/seed_scale.py",
    )  # fmt: skip
    parser.add_argument(
        "--minimum", type=int, default=1, help="the batch's minimum (minor units) with --schema"
    )
    options = parser.parse_args()
    if options.schema:
        bench_existing(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL), options.schema,
                       options.minimum)  # fmt: skip
        return
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
                    "PAYOUT_RATE_PER_SECOND": options.rate,
                }
            )
            print(f"schema {schema}, fake Stripe at {fake.url}", flush=True)
            print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
            with app.app_context():
                with timed(times, "users"):
                    preparer, approver, solver_ids = add_users(count)
                with timed(times, "owed"):
                    total = owe(solver_ids)
                if options.prepare_reports:
                    onboard_directly(fake, solver_ids)
                    bench_prepare(app, options, preparer.id, solver_ids)
                    db.session.remove()
                    db.engine.dispose()
                    return
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
                    approve_batch(approver, batch_id, pyotp.TOTP(BENCH_TOTP_SECRET).now())
                elapsed = times["send"]
                made = len(fake.transfers) - before
                limited = sum(1 for r in fake.requests if r.status == 429)
                print(
                    f"SEND {lines:,} payouts at {options.rate:g}/s: {elapsed:.1f} s "
                    f"({lines / elapsed:,.1f} lines/s); summed over the sending threads: Stripe "
                    f"calls {parts['stripe']:.1f} s, mark_paid (post_pending) "
                    f"{parts['mark_paid']:.1f} s",
                    flush=True,
                )
                per_line, per_key = count_duplicates(fake)
                print(
                    f"429 answers: {limited:,}"
                    + (f" (fake limit {options.rate_limit:g}/s)" if options.rate_limit else "")
                    + f"; busiest second at the fake: {busiest_second(fake)} requests"
                )
                print(f"duplicates: {per_line} transfers beyond one per line, {per_key} beyond "
                      "one per idempotency key")  # fmt: skip
                db.session.expire_all()
                paid = db.session.scalar(
                    select(func.count(PayoutLine.id)).where(
                        PayoutLine.batch_id == batch_id, PayoutLine.status == LineStatus.PAID
                    )
                )
                status = db.session.get(type(batch), batch_id).status
                print(f"transfers created by the fake Stripe server: {made:,}")
                failed = lines - paid
                print(f"lines paid: {paid:,}, not paid: {failed:,}, batch {status}")
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
            if per_line or per_key:
                failures.append(f"duplicates: {per_line} per line, {per_key} per key")
            if failures:
                raise SystemExit("; ".join(failures))
    finally:
        fake.stop()


if __name__ == "__main__":
    sys.exit(main())
