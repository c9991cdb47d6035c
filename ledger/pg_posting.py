"""PostgreSQL posts a journal in one statement: the functions that migration 0011 installs.

``ledger_post`` takes one transfer as scalars (adapting lists costs psycopg more Python time
than the statement takes the server); ``ledger_post_journal`` takes any number as one array
per column and works set-based. Both lock the accounts in id order, check what the generic path
checks on the locked rows and write journal, transfers and counters (migration 0011 has the
SQL). They are called through the driver's cursor, not SQLAlchemy: building, caching and
wrapping a statement cost more than the database spends on it. psycopg prepares a statement
after its fifth run. (Sending psycopg's BEGIN in one pipeline with the call saves a round trip
but costs more client CPU than it saves time: measured slower at 1 and at 4 clients.)

A refusal found on the locked rows comes back as a row, not an error, so the caller's
transaction stays usable as with the generic path; a constraint violation raises like any
failed write and is mapped by ledger.constraints.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.checks import NewTransfer
from ledger.constraints import refusal
from ledger.errors import AccountNotFound, CurrencyMismatch, InsufficientFunds

_JOURNAL = "%s, %s, %s, %s, %s, %s"
POST_ONE = f"SELECT * FROM ledger_post({_JOURNAL}, %s, %s, %s, %s, %s, %s, %s, %s)"
POST_MANY = (
    f"SELECT * FROM ledger_post_journal({_JOURNAL}, %s::varchar[], %s::bigint[], %s::bigint[],"
    " %s::bigint[], %s::varchar[], %s::varchar[], %s::boolean[], %s::bigint[])"
)

#: (journal id, transfer ids in batch order), or None when the journal key already exists.
Written = tuple[int, list[int]] | None


def _run(connection: Connection, sql: str, params: Sequence[Any], subject: str) -> list[tuple]:
    """Run ``sql`` on the driver's connection; errors as SQLAlchemy or the ledger raise them."""
    raw = connection.connection.driver_connection
    try:
        return raw.execute(sql, params).fetchall()
    except psycopg.IntegrityError as error:
        wrapped = IntegrityError(sql, params, error)
        meant = refusal(wrapped, subject)
        if meant is not None:
            raise meant from wrapped
        raise wrapped from None
    except psycopg.Error as error:
        raise DBAPIError.instance(sql, params, error, psycopg.Error) from None


def _refuse(row: tuple) -> None:
    """Raise the LedgerError of a refusal row (unless it says the key was already used)."""
    _, _, reason, ref, code_a, currency_a, code_b, currency_b, available = row
    if reason == "account":
        raise AccountNotFound(ref)
    if reason == "currency":
        raise CurrencyMismatch(code_a, code_b, currency_a, currency_b)
    if reason == "funds":
        raise InsufficientFunds(code_a, available, currency_a)


# The arrays go as PostgreSQL array literals, cast in the statement: psycopg adapts a list
# element by element in Python, which cost more than the whole journal takes the server.
def _numbers(values: list[int | None]) -> str:
    """``{1,2,NULL}``: the values are checked ints (or None) by now."""
    return "{" + ",".join(["NULL" if v is None else str(v) for v in values]) + "}"


def _texts(values: list[str]) -> str:
    """``{"a","b\\"c"}``: every element quoted, backslashes and double quotes escaped."""
    quoted = [v.replace("\\", "\\\\").replace('"', '\\"') for v in values]
    return '{"' + '","'.join(quoted) + '"}'


def post(
    connection: Connection, journal: dict, batch: Sequence[NewTransfer], effective_at: datetime
) -> Written:
    """Post ``batch`` (keys filled in, shapes checked) under ``journal``; None for a replay."""
    head = (
        journal["key"],
        journal["payload_sha256"],
        journal["description"],
        journal["recorded_by"],
        journal["recorded_at"],
        effective_at,
    )
    if len(batch) == 1:
        t = batch[0]
        params = (*head, t.key, t.debit, t.credit, t.amount, t.code, t.reference, t.pending)
        rows = _run(connection, POST_ONE, (*params, t.reverses), journal["key"])
    else:
        columns = (
            _texts([t.key for t in batch]),
            _numbers([t.debit for t in batch]),
            _numbers([t.credit for t in batch]),
            _numbers([t.amount for t in batch]),
            _texts([t.code for t in batch]),
            _texts([t.reference for t in batch]),
            "{" + ",".join(["t" if t.pending else "f" for t in batch]) + "}",
            _numbers([t.reverses for t in batch]),
        )
        rows = _run(connection, POST_MANY, (*head, *columns), journal["key"])
    first = rows[0]
    if first[2] is not None:
        _refuse(first)
        return None
    if len(batch) == 1:
        return first[0], [first[1]]
    return first[0], [int(i) for i in first[1].split(",")]
