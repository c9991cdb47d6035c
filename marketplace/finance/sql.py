"""SQL the finance desk's aggregates share: the UTC day of a timestamp, on both databases."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class utc_day(FunctionElement):  # noqa: N801 (an SQL function's name)
    """The calendar day (UTC) of a timestamp, to GROUP BY in SQL."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    """SQLite keeps UTC timestamps as naive text; ``date()`` reads their day."""
    return f"date({compiler.process(element.clauses, **kw)})"


def as_date(value: date | str) -> date:
    """A day read back from ``utc_day`` (SQLite may hand back its text)."""
    return value if isinstance(value, date) else date.fromisoformat(value)


class account_kind(FunctionElement):  # noqa: N801 (an SQL function's name)
    """The second part of an account code (``liability:payable:solver:7:usd`` -> ``payable``):
    the kind of account, to group the many accounts of one kind."""

    type = String()
    name = "account_kind"
    inherit_cache = True


@compiles(account_kind)
def _account_kind_postgresql(element: account_kind, compiler: Any, **kw: Any) -> str:
    return f"split_part({compiler.process(element.clauses, **kw)}, ':', 2)"


@compiles(account_kind, "sqlite")
def _account_kind_sqlite(element: account_kind, compiler: Any, **kw: Any) -> str:
    code = compiler.process(element.clauses, **kw)
    rest = f"substr({code}, instr({code}, ':') + 1)"
    return f"substr({rest}, 1, instr({rest} || ':', ':') - 1)"
