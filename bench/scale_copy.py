"""Bulk loading for bench/seed_scale.py: COPY rows with explicit ids, then move sequences on.

Rows are tuples in the order of the named columns. Before copying, the table's NOT NULL
columns without a server default are compared with the columns given, so a column another
migration added since this bench was written fails loudly with its name, not with a COPY error
halfway through a million rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg


class Tables:
    """Loads rows into one schema over one psycopg connection, timing each table."""

    def __init__(self, connection: psycopg.Connection, schema: str) -> None:
        self.connection = connection
        self.schema = schema
        self.counts: dict[str, int] = {}

    def columns(self, table: str) -> dict[str, tuple[bool, bool]]:
        """{column: (nullable, has a default or is generated)} of ``table``."""
        rows = self.connection.execute(
            "SELECT column_name, is_nullable = 'YES', "
            "column_default IS NOT NULL OR is_generated = 'ALWAYS' OR is_identity = 'YES' "
            "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.schema, table),
        ).fetchall()
        return {name: (nullable, defaulted) for name, nullable, defaulted in rows}

    def missing(self, table: str, given: Sequence[str]) -> list[str]:
        """Required columns of ``table`` (NOT NULL, no default) that ``given`` leaves out."""
        return sorted(
            name
            for name, (nullable, defaulted) in self.columns(table).items()
            if not nullable and not defaulted and name not in given
        )

    def copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """COPY ``rows`` into ``table``; returns how many."""
        lacking = self.missing(table, columns)
        if lacking:
            raise SystemExit(
                f"{table}: the migrated schema requires {', '.join(lacking)}, which "
                "bench/seed_scale.py does not fill yet"
            )
        count = 0
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        self.counts[table] = self.counts.get(table, 0) + count
        return count

    def without_triggers(self) -> None:
        """Skip the per-row foreign key triggers while loading (``check_foreign_keys`` checks
        every key afterwards, set-based): a million row-by-row checks took minutes at L."""
        self.connection.execute("SET session_replication_role = replica")

    def check_foreign_keys(self) -> list[str]:
        """Every foreign key of the schema, checked with one anti-join each: what is broken."""
        self.connection.execute("SET session_replication_role = DEFAULT")
        keys = self.connection.execute(
            "SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text, "
            "array_agg(a.attname ORDER BY k.n), array_agg(f.attname ORDER BY k.n) "
            "FROM pg_constraint c "
            "CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(col, fcol, n) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col "
            "JOIN pg_attribute f ON f.attrelid = c.confrelid AND f.attnum = k.fcol "
            "WHERE c.contype = 'f' AND c.connamespace = %s::regnamespace "
            "GROUP BY c.conname, c.conrelid, c.confrelid",
            (self.schema,),
        ).fetchall()
        broken = [] if keys else ["no foreign keys found: wrong schema?"]
        for name, child, parent, columns, referred in keys:
            pairs = zip(columns, referred, strict=True)
            matched = " AND ".join(f"p.{r} = c.{col}" for col, r in pairs)
            present = " AND ".join(f"c.{col} IS NOT NULL" for col in columns)
            orphans = self.connection.execute(
                f"SELECT count(*) FROM {child} c WHERE {present} "
                f"AND NOT EXISTS (SELECT FROM {parent} p WHERE {matched})"
            ).fetchone()[0]
            if orphans:
                broken.append(f"{name}: {orphans} rows of {child} point nowhere in {parent}")
        return broken

    def vacuum(self) -> None:
        """VACUUM (ANALYZE) this schema's tables only (others belong to other benches)."""
        tables = self.connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,)
        ).fetchall()
        for (table,) in tables:
            self.connection.execute(f"VACUUM (ANALYZE) {self.schema}.{table}")

    def reset_sequences(self) -> None:
        """Each serial id's sequence past the largest id written, so the app can insert."""
        rows = self.connection.execute(
            "SELECT table_name, column_name, pg_get_serial_sequence(table_name, column_name) "
            "FROM information_schema.columns WHERE table_schema = %s "
            "AND (column_default LIKE 'nextval%%' OR is_identity = 'YES')",
            (self.schema,),
        ).fetchall()
        for table, column, sequence in rows:
            if sequence:
                self.connection.execute(
                    f"SELECT setval('{sequence}', "
                    f"(SELECT coalesce(max({column}), 0) + 1 FROM {table}), false)"
                )


def as_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


class Clock:
    """Prints how long each step took."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.steps: list[tuple[str, float]] = []

    def step(self, name: str) -> None:
        now = time.perf_counter()
        self.steps.append((name, now - self.last))
        print(f"  {name:<44} {now - self.last:7.1f} s", flush=True)
        self.last = now

    @property
    def total(self) -> float:
        return time.perf_counter() - self.start
