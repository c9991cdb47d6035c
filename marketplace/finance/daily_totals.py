"""Posted ledger movements summed per UTC day of ``posted_at`` (``ledger_daily_totals``).

The ``fill_daily_totals`` job (every 5 minutes) adds what was posted since its last run in a
few set-based
``INSERT ... SELECT ... GROUP BY`` statements. What is materialised is exactly the posted
transfers with ``posted_at`` before ``posted_before`` AND ``written_at`` before
``written_through`` (:func:`materialised`; both are the moment of the last fill, so a day may be
partly filled and is added to later); readers add the rest live (:func:`live`): what was posted
since, and late rows: a transfer posted with a past ``effective_at``
(backdated) or a pending one posted after the fill lands on a materialised day, but its
``written_at`` (the moment of its last write, indexed) is after ``written_through``. The next
fill adds those late rows to their days and moves ``written_through`` on. Posted transfers never
change again (a reversal is a new transfer), so a day's sums only ever grow.

``written_through`` is taken before the start of every transaction still writing to the database
(PostgreSQL), so a transfer committed after the fill's snapshot is never counted as covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    String,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

import ledger
from ledger import TransferStatus, utcnow
from marketplace.db import transaction
from marketplace.extensions import db
from marketplace.finance.access import ESCROW, RECEIVABLE
from marketplace.finance.models import DailyTotal, DailyTotalsState
from marketplace.finance.sql import utc_day

Transfer, Account = ledger.Transfer, ledger.Account
#: Rows written this recently stay live until the next fill (see :func:`_safe_moment`).
MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Coverage:
    """How far the daily totals go: posted_at < ``end`` and written_at <= ``written``."""

    end: datetime
    written: datetime


def coverage() -> Coverage | None:
    """What the daily totals hold now; None before the first fill."""
    state = db.session.get(DailyTotalsState, 1)
    return None if state is None else Coverage(state.posted_before, state.written_through)


def materialised(cover: Coverage | None) -> ColumnElement[bool]:
    """A condition on ``ledger.Transfer`` (posted): it is summed in the daily totals."""
    if cover is None:
        return false()
    return and_(Transfer.posted_at < cover.end, Transfer.written_at < cover.written)


def unindexed(column: Any, cover: Coverage | None) -> Any:
    """``column`` as an expression no index serves, once the daily totals cover the past: the
    live rows are few, and PostgreSQL should find them by :func:`live`'s index ranges rather
    than AND them with an index over every transfer of a code or of a thousand accounts."""
    if cover is None:
        return column
    return column.concat("") if isinstance(column.type, String) else column + 0


def live(cover: Coverage | None) -> ColumnElement[bool]:
    """A condition on ``ledger.Transfer`` (posted): it is not in the daily totals (an index
    range on ``posted_at`` or on ``written_at``)."""
    if cover is None:
        return true()
    return or_(Transfer.posted_at >= cover.end, Transfer.written_at >= cover.written)


def _safe_moment(margin: timedelta) -> datetime:
    """A moment at or before every write this transaction cannot see (its own it sees).

    On PostgreSQL: the start of the oldest transaction that has written (holds a transaction
    id), as ``written_at`` is taken inside a transaction, after its start; and ``margin``
    before now, for a transaction whose statement took its ``written_at`` just before it was
    given its id. SQLite has one writer, and this transaction holds the write lock."""
    if db.session.get_bind().dialect.name != "postgresql":
        return utcnow()
    return db.session.execute(
        text(
            "SELECT least(clock_timestamp() - :margin, min(xact_start)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_xid IS NOT NULL "
            "AND pid <> pg_backend_pid()"
        ),
        {"margin": margin},
    ).scalar_one()


class utc_year(FunctionElement):  # noqa: N801 (an SQL function's name)
    """The first day of the UTC year of a timestamp: the grain of the per-account measure,
    which the dashboard sums over all time (a row per account and year, not per day)."""

    type = Date()
    name = "utc_year"
    inherit_cache = True


@compiles(utc_year)
def _utc_year_postgresql(element: utc_year, compiler: Any, **kw: Any) -> str:
    when = compiler.process(element.clauses, **kw)
    return f"CAST(date_trunc('year', timezone('UTC', {when})) AS DATE)"


@compiles(utc_year, "sqlite")
def _utc_year_sqlite(element: utc_year, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'start of year')"


def _measures(new: ColumnElement[bool]) -> list[Any]:
    """One grouped SELECT per measure over the transfers ``new`` keeps."""
    day = utc_day(Transfer.posted_at)
    key = (day, Transfer.currency, Transfer.code)
    sums = (func.sum(Transfer.amount), func.count())
    posted = and_(Transfer.status == TransferStatus.POSTED, new)
    everything = select(*key, literal("transfers"), literal(0), *sums).where(posted)
    selects = [everything.group_by(*key)]
    for measure, column in (
        ("escrow_in", Transfer.credit_account_id),
        ("escrow_out", Transfer.debit_account_id),
    ):
        selects.append(
            select(*key, literal(measure), literal(0), *sums)
            .join(Account, Account.id == column)
            .where(posted, Account.code.startswith(ESCROW))
            .group_by(*key)
        )
    year = (utc_year(Transfer.posted_at), Transfer.currency, Transfer.code)
    selects.append(
        select(*year, literal("receivable_debit"), Transfer.debit_account_id, *sums)
        .join(Account, Account.id == Transfer.debit_account_id)
        .where(posted, Transfer.code == "VALUE_SHARE", Account.code.startswith(RECEIVABLE))
        .group_by(*year, Transfer.debit_account_id)
    )
    return selects


def _add(query: Any) -> int:
    """Add a grouped SELECT's rows to the daily totals (summed into existing days)."""
    table = DailyTotal.__table__
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    columns = ["day", "currency", "code", "measure", "account_id", "amount", "count"]
    statement = insert(table).from_select(columns, query)
    statement = statement.on_conflict_do_update(
        index_elements=["day", "currency", "code", "measure", "account_id"],
        set_={
            "amount": table.c.amount + statement.excluded.amount,
            "count": table.c.count + statement.excluded["count"],
        },
    )
    return max(db.session.execute(statement).rowcount, 0)  # psycopg may not know: -1


def fill(
    until: datetime | None = None, margin: timedelta = MARGIN, written: datetime | None = None
) -> dict[str, Any]:
    """Bring the daily totals up to now (or ``until``) and take in the late rows written since
    the last fill: only the transfers not yet covered are read (one index range each way).
    ``written`` overrides the safe moment, for a caller that knows every write before it is
    visible (a test inside one transaction)."""
    with transaction() as session:
        state = session.scalar(
            select(DailyTotalsState).where(DailyTotalsState.id == 1).with_for_update()
        )
        written = written or _safe_moment(margin)
        through = until or written
        old = None if state is None else Coverage(state.posted_before, state.written_through)
        if old is not None:
            through, written = max(through, old.end), max(written, old.written)
        new = Coverage(through, written)
        covered = materialised(new)
        if old is not None:
            covered = and_(covered, live(old))
        rows = sum(_add(query) for query in _measures(covered))
        if state is None:
            state = DailyTotalsState(id=1)
            session.add(state)
        state.posted_before, state.written_through, state.filled_at = through, written, utcnow()
    return {"posted_before": through.isoformat(), "written_through": written.isoformat(),
            "rows": rows}  # fmt: skip
