"""Value sharing among 100,000 contributors: one value report, and the split alone.

    python bench/value_bench.py [--contributors N] [--rounds R]

The database comes from BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test):
a throw-away schema ``bench_<random>``, migrated to head and dropped at the end.

Set-up: the demo data (``flask demo``: real needs, proposals and awards made through the
services, all with terms that share 3 % of realised value for 36 months); one award is moved
400 days into the past, then N solvers (one password hash for all) and N confirmed later
contributions to that award with uneven weights are bulk-inserted.
Measured:
- ``ledger.allocate`` alone: the share split over N + the team's weights (largest remainder),
  ``--rounds`` times;
- ``marketplace.value.reports.report_value`` for one 90-day period: read the weights, allocate,
  open N payable accounts (``chart.payables``), post one journal of N VALUE_SHARE transfers,
  record the report and notify the N co-creators; the time is split into those parts.
  Jobs are only recorded, not run (as with a Redis queue and no worker): the email job of
  N notifications is a worker's business.
Checked: the parts add up to the share exactly, every co-creator's transfer equals their part,
and ``ledger.verify`` finds the book clean.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the working tree's ledger and marketplace

from sqlalchemy import BigInteger, String, cast, event, func, insert, literal, select, update  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import ledger  # noqa: E402
from bench.ledger_bench import DEFAULT_URL, bench_schema, migrate_to_head  # noqa: E402
from ledger import Account, Transfer, utcnow  # noqa: E402
from marketplace import create_app, queue  # noqa: E402
from marketplace.accounts.models import Membership, OrgRole, User  # noqa: E402
from marketplace.accounts.passwords import hash_password  # noqa: E402
from marketplace.challenges.models import Challenge  # noqa: E402
from marketplace.challenges.terms import BASIS_POINTS  # noqa: E402
from marketplace.demo import load_demo  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.finance import chart  # noqa: E402
from marketplace.judging.models import Award  # noqa: E402
from marketplace.notifications import bulk, services  # noqa: E402
from marketplace.outbox import OutboxJob  # noqa: E402
from marketplace.value import reports  # noqa: E402
from marketplace.value.contributions import weights  # noqa: E402
from marketplace.value.models import Contribution, ContributionKind  # noqa: E402

CONTRIBUTORS = 100_000
AWARDED_DAYS_AGO = 400
PERIOD_DAYS = 90
VALUE = 1_234_567_890_12  # realised value in the period, in cents: 1,234,567,890.12 USD


def weight(n: int) -> int:
    """Uneven weights in basis points: a spread of small ones, a big one every 1,000th."""
    return 250_000 if n % 1_000 == 0 else 1 + (n * 7_919) % 9_973


def pick_award() -> tuple[Award, User]:
    """The first demo award whose terms share value and that has no value report yet (the
    demo reports some), and an owner of its organization."""
    reported = select(reports.ValueReport.award_id)
    for award in db.session.scalars(
        select(Award).where(Award.id.not_in(reported)).order_by(Award.id)
    ):
        if reports.value_term(award)[1] is not None:
            challenge = db.session.get(Challenge, award.challenge_id)
            owner = db.session.scalar(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(
                    Membership.organization_id == challenge.organization_id,
                    Membership.role == OrgRole.OWNER,
                )
            )
            return award, owner
    raise SystemExit("the demo data holds no unreported award whose terms share value")


def add_contributors(award: Award, recorder: User, count: int) -> None:
    """``count`` solvers, each with one confirmed contribution to ``award``: two INSERT ...
    SELECT statements from numbers and arrays (the set-up is not what is measured)."""
    n = func.generate_series(0, count - 1).table_valued("value").render_derived("n")
    people = select(
        literal("contributor").concat(cast(n.c.value, String)).concat("@solver.bench"),
        literal("Contributor ").concat(cast(n.c.value, String)),
        literal(hash_password("bench-password")),
        literal(utcnow(), User.created_at.type),
    ).order_by(n.c.value)
    written = db.session.execute(
        insert(User)
        .from_select(["email", "name", "password_hash", "created_at"], people)
        .returning(User.id, User.email)
    ).all()
    ids = [uid for uid, _ in sorted(written, key=lambda row: int(row.email[11:].split("@")[0]))]
    each = (
        func.unnest(
            cast(literal(ids), postgresql.ARRAY(BigInteger)),
            cast(literal([weight(k) for k in range(count)]), postgresql.ARRAY(BigInteger)),
        )
        .table_valued("user_id", "weight")
        .render_derived("c")
    )
    rows = select(
        literal(award.id), each.c.user_id, literal(ContributionKind.LATER.value), each.c.weight,
        literal("Bench contribution"), literal(recorder.id),
        literal(award.awarded_at, Contribution.recorded_at.type),
        literal(award.awarded_at, Contribution.confirmed_at.type),
    )  # fmt: skip
    columns = ["award_id", "user_id", "kind", "weight", "description", "recorded_by_id",
               "recorded_at", "confirmed_at"]  # fmt: skip
    db.session.execute(insert(Contribution).from_select(columns, rows))
    db.session.commit()


def move_award_back(award: Award) -> None:
    moved = utcnow() - timedelta(days=AWARDED_DAYS_AGO)
    award.awarded_at = moved
    db.session.execute(
        update(Contribution)
        .where(Contribution.award_id == award.id)
        .values(recorded_at=moved, confirmed_at=moved)
    )
    db.session.commit()


#: (phase printed, module, attribute): what report_value calls, wrapped to time it. A phase
#: that calls another (notifications enqueue their email job) is shown without the inner one.
PHASES: list[tuple[str, Any, str]] = [
    ("contributions read", reports, "weights"),
    ("allocation", ledger, "allocate"),
    ("accounts", chart, "payables"),
    ("ledger posting", ledger, "post_journal"),
    ("notifications", reports, "notify"),
    ("notifications", reports, "notify_many"),
    ("outbox", queue, "enqueue"),
    ("outbox", services, "enqueue"),
    ("outbox", bulk, "enqueue"),
]


@contextmanager
def timed_parts() -> Iterator[dict[str, float]]:
    """Add up the time report_value spends in its phases (by wrapping what it calls), the
    commit included; the time of a phase spent inside another is counted once, in the inner."""
    parts: dict[str, float] = {}
    stack: list[str] = []
    wrapped = [(o, a, getattr(o, a)) for _, o, a in PHASES if hasattr(o, a)]
    names = {(id(o), a): name for name, o, a in PHASES}

    def timing(name: str, function: Callable) -> Callable:
        def run(*args, **kwargs):
            start = time.perf_counter()
            stack.append(name)
            try:
                return function(*args, **kwargs)
            finally:
                stack.pop()
                took = time.perf_counter() - start
                parts[name] = parts.get(name, 0.0) + took
                if stack:
                    parts[stack[-1]] = parts.get(stack[-1], 0.0) - took

        return run

    commit: dict[str, float] = {}

    def before_commit(_session) -> None:  # noqa: ANN001
        commit["start"] = time.perf_counter()

    def after_commit(_session) -> None:  # noqa: ANN001
        took = time.perf_counter() - commit.pop("start", time.perf_counter())
        parts["commit"] = parts.get("commit", 0.0) + took

    for owner, attribute, function in wrapped:
        setattr(owner, attribute, timing(names[(id(owner), attribute)], function))
    event.listen(Session, "before_commit", before_commit)
    event.listen(Session, "after_commit", after_commit)
    try:
        yield parts
    finally:
        event.remove(Session, "before_commit", before_commit)
        event.remove(Session, "after_commit", after_commit)
        for owner, attribute, function in wrapped:
            setattr(owner, attribute, function)


@contextmanager
def jobs_recorded() -> Iterator[list[int]]:
    """Outbox rows are written but not handed over after the commit (as with a Redis queue
    and no worker): yields the ids of the rows the commits would have handed over."""
    recorded: list[int] = []
    real = queue.hand_over

    def hand_over(ids) -> int:  # noqa: ANN001
        recorded.extend(ids)
        return 0

    queue.hand_over = hand_over
    try:
        yield recorded
    finally:
        queue.hand_over = real


def describe_jobs(ids: list[int]) -> str:
    """'function x count (size of their arguments)' for the recorded outbox rows."""
    rows = db.session.execute(
        select(OutboxJob.function, OutboxJob.args).where(OutboxJob.id.in_(ids))
    ).all()
    counts: dict[str, list[int]] = {}
    for function, args in rows:
        sizes = counts.setdefault(function, [0, 0])
        sizes[0] += 1
        sizes[1] += len(json.dumps(args))
    return (
        ", ".join(
            f"{name} x {count:,} ({size:,} bytes of arguments)"
            for name, (count, size) in counts.items()
        )
        or "none"
    )


def check(award_id: int, report_id: int) -> list[str]:
    """What is wrong with the report and its journal (nothing, one hopes)."""
    report = db.session.get(reports.ValueReport, report_id)
    failures = []
    if sum(report.shares.values()) != report.share_amount:
        failures.append(f"parts add up to {sum(report.shares.values())}, not {report.share_amount}")
    if report.share_amount != VALUE * report.share_bp // BASIS_POINTS:
        failures.append("the share is not the terms' percentage of the value")
    credited = db.session.execute(
        select(Account.code, Transfer.amount)
        .join(Account, Account.id == Transfer.credit_account_id)
        .where(Transfer.journal_id == report.journal_id)
    ).all()
    paid = {int(code.split(":")[3]): amount for code, amount in credited}
    owed = {int(uid): part for uid, part in report.shares.items() if part > 0}
    if paid != owed:
        failures.append("the journal's transfers differ from the report's parts")
    if sum(amount for _, amount in credited) != report.share_amount:
        failures.append("the journal does not move exactly the share")
    if set(report.weights) != {str(uid) for uid in weights(db.session.get(Award, award_id))}:
        failures.append("the report's weights are not the confirmed contributions")
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contributors", type=int, default=CONTRIBUTORS)
    parser.add_argument("--rounds", type=int, default=3, help="times ledger.allocate is run")
    parser.add_argument(
        "--profile", type=int, default=0, help="print the N functions report_value spent most in"
    )
    options = parser.parse_args()
    count = options.contributors
    base_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    with bench_schema(base_url) as (schema, url):
        migrate_to_head(url)
        app = create_app(
            {
                "SECRET_KEY": "bench",
                "SQLALCHEMY_DATABASE_URI": url,
                "REDIS_URL": None,
                "RATELIMIT_STORAGE_URI": "memory://",
            }
        )
        print(f"schema {schema}", flush=True)
        print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
        with app.app_context(), app.test_request_context(), jobs_recorded() as enqueued:
            start = time.perf_counter()
            load_demo()
            award, owner = pick_award()
            award_id, owner_id = award.id, owner.id
            move_award_back(award)
            demo = time.perf_counter() - start
            start = time.perf_counter()
            add_contributors(award, owner, count)
            inserted = time.perf_counter() - start
            print(
                f"set-up: demo data {demo:.1f} s; {count:,} contributors to award {award_id} "
                f"(users and confirmed contributions, bulk-inserted) {inserted:.1f} s",
                flush=True,
            )

            award = db.session.get(Award, award_id)
            share_bp, window = reports.value_term(award)
            share = VALUE * share_bp // BASIS_POINTS
            split = weights(award)
            rounds = []
            for _ in range(options.rounds):
                start = time.perf_counter()
                parts = ledger.allocate(share, split)
                rounds.append(time.perf_counter() - start)
            exact = sum(parts.values()) == share
            print(
                f"ledger.allocate alone, {len(split):,} weights: median "
                f"{statistics.median(rounds) * 1000:.0f} ms (of {options.rounds}: "
                + ", ".join(f"{r * 1000:.0f}" for r in rounds)
                + f" ms); parts add up to the share: {'yes' if exact else 'NO'}",
                flush=True,
            )

            period = {
                "period_start": window[0],
                "period_end": window[0] + timedelta(days=PERIOD_DAYS - 1),
                "value_amount": VALUE,
                "currency": award.currency,
                "evidence": "Bench: audited sales report",
            }
            enqueued.clear()
            db.session.expire_all()
            profile = cProfile.Profile() if options.profile else None
            with timed_parts() as steps:
                start = time.perf_counter()
                if profile:
                    profile.enable()
                report = reports.report_value(db.session.get(User, owner_id), award_id, period)
                if profile:
                    profile.disable()
                elapsed = time.perf_counter() - start
            if profile:
                pstats.Stats(profile).sort_stats("tottime").print_stats(options.profile)
            report_id, lines = report.id, len(report.shares)
            shown = ledger.format_minor(share, award.currency, grouped=True)
            rest = elapsed - sum(steps.values())
            print(
                f"report_value, {lines:,} co-creators sharing {shown} {award.currency}: "
                f"{elapsed:.1f} s ({lines / elapsed:,.0f} transfers/s)",
                flush=True,
            )
            print(
                "  phases: "
                + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in steps.items())
                + f", the rest (checks, report row, statements between) {rest:.2f} s"
            )
            print(f"  jobs written to the outbox (not run): {describe_jobs(enqueued)}")
            db.session.expire_all()
            failures = check(award_id, report_id)
            print(
                "parts add up to the share, transfer by transfer: "
                + ("yes" if not failures else "NO")
            )
            start = time.perf_counter()
            problems = ledger.verify(db.session)
            print(
                "ledger verify: " + ("ok" if not problems else f"{len(problems)} problems")
                + f" ({time.perf_counter() - start:.1f} s)"
            )  # fmt: skip
            print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
            db.session.remove()
            db.engine.dispose()
    if not exact:
        failures.append("ledger.allocate's parts do not add up to the share")
    if problems:
        failures.append(f"the book does not verify: {problems[:3]}")
    if failures:
        raise SystemExit("; ".join(failures))


if __name__ == "__main__":
    sys.exit(main())
