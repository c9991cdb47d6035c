"""Ledger throughput against pgbench, measured in the same run on the same PostgreSQL.

    python bench/ledger_bench.py [--json] [--seconds N]

The database comes from BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test).
Everything happens in a throw-away schema ``bench_<random>``, migrated to head and dropped at
the end; pgbench's tables go into the same schema through PGOPTIONS' search_path.

Why these workloads:
- ours: each client process posts one transfer per database transaction with
  ``ledger.post_transfer`` + commit, between random pairs of ~1,000 plain accounts. That is the
  counterpart of pgbench's tpcb-like transaction (3 balance updates + 1 insert on random
  rows), and the shape of a web request that records one money movement.
- pgbench tpcb-like at the same client counts, so the ratio does not depend on how fast the
  machine happens to be today (STACK.md: "measure them in the same run").
- batch: one journal of 100 transfers per transaction, the shape of a payout batch or an
  award split, to show what amortising the commit buys.
- large journal: one journal of 100,000 transfers (value sharing among 100,000 co-creators
  posts that), timed from the call to the commit; once, after the rounds.
Clients are separate processes (spawn), as gunicorn/rq workers are: threads would share one GIL.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ on sys.path, not the repository: import the working tree's
# ledger and marketplace, whatever an (older) installed copy says.
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import ledger  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
ACCOUNTS = 1_000
BATCH = 100
LARGE = 100_000
WARM_UP = 50  # transfers per client before the clock starts: a server process is warm
CLIENT_COUNTS = (1, 4)


def psycopg_url(url: str) -> str:
    """SQLAlchemy URL using psycopg 3 (the driver the app uses) for postgres(ql):// URLs."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


@contextmanager
def bench_schema(base_url: str) -> Iterator[tuple[str, str]]:
    """Create ``bench_<random>``; yield (its name, a URL whose search_path is it); drop it."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(psycopg_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = sa.make_url(psycopg_url(base_url)).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    try:
        yield schema, url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def migrate_to_head(url: str) -> None:
    """``flask db upgrade`` on ``url``. Flask is imported here only, never in the hot loop."""
    import flask_migrate

    from marketplace import create_app
    from marketplace.extensions import db

    app = create_app(
        {
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )
    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()


def open_accounts(url: str) -> list[int]:
    """ACCOUNTS plain asset accounts (no overdraft rule, like pgbench's accounts)."""
    engine = sa.create_engine(url)
    with Session(engine) as session:
        ids = [
            ledger.open_account(session, f"asset:bench:{n}", ledger.AccountType.ASSET, "USD").id
            for n in range(ACCOUNTS)
        ]
        session.commit()
    engine.dispose()
    return ids


def _client(
    url: str, ids: list[int], seconds: float, batch: int, name: str, barrier: Any, results: Any
) -> None:
    """One client process: post for ``seconds`` after the barrier; report (count, elapsed).

    ``barrier`` and ``results`` are a multiprocessing Barrier and Queue (spawn context).
    """
    rng = random.Random(name)
    engine = sa.create_engine(url)
    session = Session(engine)
    serial = 0

    def post_one() -> int:
        nonlocal serial
        serial += 1
        if batch == 1:
            debit, credit = rng.sample(ids, 2)
            ledger.post_transfer(
                session, debit=debit, credit=credit, amount=rng.randint(1, 10_000),
                code="BENCH", key=f"{name}:{serial}", recorded_by="bench",
            )  # fmt: skip
        else:
            transfers = [
                ledger.NewTransfer(*rng.sample(ids, 2), rng.randint(1, 10_000), "BENCH")
                for _ in range(batch)
            ]
            ledger.post_journal(session, transfers, key=f"{name}:{serial}", recorded_by="bench")
        session.commit()
        return batch

    try:
        for _ in range(max(1, WARM_UP // batch)):
            post_one()
        barrier.wait(60)
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            count += post_one()
        results.put((count, time.perf_counter() - start, None))
    except Exception as error:  # noqa: BLE001  (reported to the parent, which stops)
        results.put((0, 1.0, repr(error)))
    finally:
        session.close()
        engine.dispose()


def run_ours(url: str, ids: list[int], clients: int, seconds: float, batch: int = 1) -> float:
    """Transfers per second over ``clients`` processes started together."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(clients), context.Queue()
    processes = [
        context.Process(
            target=_client,
            args=(url, ids, seconds, batch, f"c{clients}b{batch}w{n}", barrier, results),
        )
        for n in range(clients)
    ]
    for process in processes:
        process.start()
    reports = [results.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join()
    errors = [error for _, _, error in reports if error]
    if errors:
        raise RuntimeError(f"client failed: {errors[0]}")
    return sum(count / elapsed for count, elapsed, _ in reports)


def run_large_journal(url: str, ids: list[int], size: int = LARGE) -> float:
    """Transfers per second of one journal of ``size`` transfers, call to commit."""
    rng = random.Random("large")
    transfers = [
        ledger.NewTransfer(*rng.sample(ids, 2), rng.randint(1, 10_000), "BENCH")
        for _ in range(size)
    ]
    engine = sa.create_engine(url)
    with Session(engine) as session:
        start = time.perf_counter()
        ledger.post_journal(session, transfers, key=f"large:{uuid.uuid4()}", recorded_by="bench")
        session.commit()
        elapsed = time.perf_counter() - start
    engine.dispose()
    return size / elapsed


def pgbench(base_url: str, schema: str, args: list[str]) -> str:
    """Run pgbench against the bench schema (search_path via PGOPTIONS); return its stdout."""
    url = sa.make_url(base_url)
    env = {**os.environ, "PGOPTIONS": f"-c search_path={schema}"}
    if url.password:
        env["PGPASSWORD"] = url.password
    command = ["pgbench", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    command += ["-U", url.username or "postgres", *args, url.database or "postgres"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def run_pgbench(base_url: str, schema: str, clients: int, seconds: float) -> float:
    out = pgbench(
        base_url, schema,
        ["-b", "tpcb-like", "-c", str(clients), "-j", str(clients), "-T", str(int(seconds)), "-n"],
    )  # fmt: skip
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    if match is None:
        raise RuntimeError(f"no tps in pgbench output:\n{out}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--seconds", type=float, default=10, help="per measurement")
    parser.add_argument(
        "--rounds", type=int, default=1,
        help="repeat every measurement and report medians (steadier on a busy machine)",
    )  # fmt: skip
    options = parser.parse_args()
    base_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    rates: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        rates.setdefault(name, []).append(value)

    with bench_schema(base_url) as (schema, url):
        migrate_to_head(url)
        ids = open_accounts(url)
        pgbench(base_url, schema, ["-i", "-s", "1", "-q"])
        print(f"schema {schema}: {ACCOUNTS} ledger accounts, pgbench scale 1", flush=True)
        print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
        for _ in range(options.rounds):
            for clients in CLIENT_COUNTS:  # ours then pgbench: drift hits both sides alike
                ours = run_ours(url, ids, clients, options.seconds)
                theirs = run_pgbench(base_url, schema, clients, options.seconds)
                record(f"ours_tps_{clients}", ours)
                record(f"pgbench_tps_{clients}", theirs)
                record(f"ratio_{clients}", ours / theirs)
                print(
                    f"{clients} client(s): ours {ours:8.1f} transfers/s   pgbench tpcb-like "
                    f"{theirs:8.1f} tps   ratio {ours / theirs:.2f}",
                    flush=True,
                )
            batch = run_ours(url, ids, 1, options.seconds, batch=BATCH)
            record("batch_tps", batch)
            print(f"batch ({BATCH} transfers per journal, 1 client): {batch:8.1f} transfers/s")
        # Once, after the rounds: its 100,000 rows would leave autovacuum and a checkpoint
        # running into the next round's measurements.
        large = run_large_journal(url, ids)
        record("large_journal_tps", large)
        print(
            f"large journal ({LARGE:,} transfers in one journal, 1 client): {large:8.1f} "
            f"transfers/s ({LARGE / large:.2f} s)",
            flush=True,
        )
        print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
        engine = sa.create_engine(url)
        with Session(engine) as session:
            problems = ledger.verify(session)
        engine.dispose()
        if problems:
            raise SystemExit(f"the book does not verify after the run: {problems[:3]}")
    report = {name: round(statistics.median(values), 3) for name, values in rates.items()}
    if options.rounds > 1:
        print("medians: " + ", ".join(f"{name} {value:g}" for name, value in report.items()))
    if options.json:
        print(json.dumps(report))


if __name__ == "__main__":
    sys.exit(main())
