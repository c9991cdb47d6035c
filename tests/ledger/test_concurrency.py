"""Concurrent posting on PostgreSQL from separate OS processes (DESIGN.md, "The ledger").

Threads in one process would share the GIL and a driver; real clients are separate processes
with their own connections, so the workers are spawned processes. They commit, so each test
gets a throw-away schema of its own instead of the rolled-back ``session`` fixture.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import ledger
from ledger import Account, AccountType, Transfer

WORKERS = 8
ESCROW_CENTS = 1_000
DRAWS = 2_000
REPLAYERS = 4  # processes posting the same idempotency key, 5 times each
TIMEOUT = 120  # seconds; a worker stuck on a lock fails the test rather than hanging it

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def fresh_url() -> Iterator[str]:
    """A new schema migrated to head, dropped afterwards: the workers' commits stay in it.

    tests.conftest is imported here, not at the top, so that each spawned worker, which
    imports this module, does not also import Flask and the whole marketplace.
    """
    from tests.conftest import migrate_to_head, need_service, postgres_schema

    base = need_service("TEST_DATABASE_URL", "the PostgreSQL concurrency tests")
    with postgres_schema(base) as url:
        migrate_to_head(url)
        yield url


@dataclass(frozen=True)
class Outcome:
    """What one worker saw; errors holds any exception other than the expected refusal."""

    worker: int
    results: list[Any]
    refused: int
    errors: list[str]


def _run(url: str, worker: int, barrier: Any, queue: Any, job: str, args: tuple) -> None:
    """Worker entry point (module level so "spawn" can import it); always reports back."""
    results: list[Any] = []
    refused = 0
    errors: list[str] = []
    engine = sa.create_engine(url)
    try:
        with engine.connect():  # connect first: the barrier then releases ready workers
            pass
        barrier.wait(TIMEOUT)
        if job == "draw":
            escrow_id, sink_id, draws = args
            for n in range(draws):
                with Session(engine) as session:
                    try:
                        posted = ledger.post_transfer(
                            session, debit=escrow_id, credit=sink_id, amount=1, code="AWARD",
                            key=f"draw:{worker}:{n}", recorded_by=f"worker-{worker}",
                        )  # fmt: skip
                        session.commit()
                        results.append(posted.transfer_id)
                    except ledger.InsufficientFunds:
                        session.rollback()
                        refused += 1
        elif job == "journal":  # two draws per journal, the escrow touched twice
            escrow_id, sink_id, other_id, journals = args
            for n in range(journals):
                with Session(engine) as session:
                    try:
                        posted = ledger.post_journal(
                            session,
                            [
                                ledger.NewTransfer(escrow_id, sink_id, 1, "AWARD"),
                                ledger.NewTransfer(escrow_id, other_id, 1, "AWARD"),
                            ],
                            key=f"journal:{worker}:{n}",
                            recorded_by=f"worker-{worker}",
                        )
                        session.commit()
                        results.extend(posted.transfer_ids)
                    except ledger.InsufficientFunds:
                        session.rollback()
                        refused += 1
        else:  # "replay": every worker posts the same key several times
            cash_id, escrow_id, rounds = args
            for _ in range(rounds):
                with Session(engine) as session:
                    posted = ledger.post_transfer(
                        session, debit=cash_id, credit=escrow_id, amount=500,
                        code="FUND_ESCROW", key="fund:challenge:1", recorded_by="stripe",
                    )  # fmt: skip
                    session.commit()
                    results.append((posted.transfer_id, posted.replayed))
    except Exception:  # noqa: BLE001  (reported to the parent, which fails the test)
        errors.append(traceback.format_exc())
    finally:
        engine.dispose()
        queue.put(Outcome(worker, results, refused, errors))


def race(url: str, job: str, args_for: list[tuple]) -> list[Outcome]:
    """Run one worker process per args tuple, released together by a barrier."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(args_for))
    queue = context.Queue()
    processes = [
        context.Process(target=_run, args=(url, worker, barrier, queue, job, args))
        for worker, args in enumerate(args_for)
    ]
    for process in processes:
        process.start()
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while len(outcomes) < len(processes) and time.monotonic() < deadline:
            try:
                outcomes.append(queue.get(timeout=1))
            except queue_module.Empty:
                if not any(process.is_alive() for process in processes):
                    break  # a worker died without reporting: fail now, not at the deadline
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
    assert len(outcomes) == len(processes), "a worker died or hung without reporting"
    return sorted(outcomes, key=lambda outcome: outcome.worker)


def open_accounts(url: str, sinks: int) -> tuple[int, int, list[int]]:
    """Cash, an escrow holding ESCROW_CENTS and ``sinks`` payables, committed.

    Half the payables get lower ids than the escrow and half higher, so the workers' lock
    order (ascending id) sometimes takes the escrow first and sometimes second.
    """
    engine = sa.create_engine(url)
    with Session(engine) as session:
        cash = ledger.open_account(session, "asset:cash:stripe", AccountType.ASSET, "USD")

        def payable(n: int) -> int:
            return ledger.open_account(
                session, f"liability:payable:solver:{n}", AccountType.LIABILITY, "USD",
                debits_must_not_exceed_credits=True,
            ).id  # fmt: skip

        low = [payable(n) for n in range(sinks // 2)]
        escrow = ledger.open_account(
            session, "liability:escrow:challenge:1", AccountType.LIABILITY, "USD",
            debits_must_not_exceed_credits=True,
        )  # fmt: skip
        high = [payable(n) for n in range(sinks // 2, sinks)]
        ledger.post_transfer(
            session, debit=cash.id, credit=escrow.id, amount=ESCROW_CENTS,
            code="FUND_ESCROW", key="fund", recorded_by="tests",
        )  # fmt: skip
        session.commit()
        ids = cash.id, escrow.id, low + high
    engine.dispose()
    return ids


def test_concurrent_draws_never_overdraw_the_escrow(fresh_url: str) -> None:
    _cash, escrow_id, sinks = open_accounts(fresh_url, WORKERS)
    outcomes = race(fresh_url, "draw", [(escrow_id, sink, DRAWS // WORKERS) for sink in sinks])

    assert [o.errors for o in outcomes] == [[]] * WORKERS  # no deadlock, nothing unexpected
    drawn = [transfer_id for o in outcomes for transfer_id in o.results]
    assert len(drawn) == ESCROW_CENTS
    assert len(set(drawn)) == ESCROW_CENTS
    assert sum(o.refused for o in outcomes) == DRAWS - ESCROW_CENTS
    engine = sa.create_engine(fresh_url)
    with Session(engine) as session:
        escrow = session.get_one(Account, escrow_id)
        assert (escrow.balance, escrow.available) == (0, 0)
        assert escrow.debits_posted == escrow.credits_posted == ESCROW_CENTS
        drawn_by_sinks = sum(session.get_one(Account, sink).credits_posted for sink in sinks)
        assert drawn_by_sinks == ESCROW_CENTS
        assert ledger.verify(session) == []
    engine.dispose()


def test_concurrent_replays_of_one_key_post_once(fresh_url: str) -> None:
    cash_id, escrow_id, _sinks = open_accounts(fresh_url, 0)
    outcomes = race(fresh_url, "replay", [(cash_id, escrow_id, 5)] * REPLAYERS)

    assert [o.errors for o in outcomes] == [[]] * REPLAYERS
    results = [result for o in outcomes for result in o.results]
    assert len({transfer_id for transfer_id, _ in results}) == 1  # everyone got the same id
    assert [replayed for _, replayed in results].count(False) == 1
    engine = sa.create_engine(fresh_url)
    with Session(engine) as session:
        key = sa.select(sa.func.count()).where(Transfer.key == "fund:challenge:1")
        assert session.scalar(key) == 1
        assert session.get_one(Account, escrow_id).credits_posted == ESCROW_CENTS + 500
        assert ledger.verify(session) == []
    engine.dispose()


def test_concurrent_journals_never_overdraw_and_keep_running_balances(fresh_url: str) -> None:
    """Journals of two draws (the escrow debited twice) from 8 processes: the set-based path."""
    _cash, escrow_id, sinks = open_accounts(fresh_url, WORKERS)
    journals = DRAWS // WORKERS // 2
    args = [(escrow_id, sink, sinks[n - 1], journals) for n, sink in enumerate(sinks)]
    outcomes = race(fresh_url, "journal", args)

    assert [o.errors for o in outcomes] == [[]] * WORKERS
    drawn = [transfer_id for o in outcomes for transfer_id in o.results]
    assert len(drawn) == len(set(drawn)) == ESCROW_CENTS
    assert sum(o.refused for o in outcomes) == WORKERS * journals - ESCROW_CENTS // 2
    engine = sa.create_engine(fresh_url)
    with Session(engine) as session:
        escrow = session.get_one(Account, escrow_id)
        assert (escrow.balance, escrow.available) == (0, 0)
        assert ledger.verify(session) == []
        for account_id in [escrow_id, *sinks]:
            rows = ledger.statement_page(session, account_id, limit=10_000)
            running = 0
            for row in reversed(rows):
                running += row.debit - row.credit
                assert row.balance == running
            assert running == session.get_one(Account, account_id).balance
    engine.dispose()
