"""Exports and verify of a period: the desk's form and API, and `flask ledger export|verify
--from --to`; the export reads the book in keyset batches."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

import ledger
from marketplace.extensions import db
from marketplace.finance.models import BookExport
from tests.challenges.test_api import bearer, token_for
from tests.finance.conftest import post
from tests.finance.test_exports import folder  # noqa: F401

CASH = "asset:cash:stripe:usd"


def march_2024(app, book) -> list[int]:
    """Four fundings effective in March 2024 (two on the 10th), one in April."""
    days = [(3, 1), (3, 10), (3, 10), (3, 31), (4, 1)]
    return [
        post(
            app,
            CASH,
            book.acme_escrow,
            100 + n,
            "FUND_ESCROW",
            f"old:{n}",
            when=datetime(2024, month, day, 12, tzinfo=UTC),
        )  # fmt: skip
        for n, (month, day) in enumerate(days)
    ]


def test_transfers_of_a_period_cross_batches_in_order(app, book) -> None:
    ids = march_2024(app, book)
    with app.app_context():
        start, end = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 31, 23, tzinfo=UTC)
        reading = ledger.reading.transfers_in_order(db.session, batch_size=2, start=start, end=end)
        march = list(reading)
        everything = list(ledger.reading.transfers_in_order(db.session, batch_size=2))
    assert [t.id for t in march] == ids[:4]
    assert len(everything) == 5 + 5 and len({t.id for t in everything}) == 10


def test_the_cli_exports_a_period(app, runner, book, tmp_path) -> None:
    ids = march_2024(app, book)
    target = tmp_path / "march.csv"
    result = runner.invoke(
        args=["ledger", "export", "--format", "csv", "--from", "2024-03-10", "--to",
              "2024-03-31", "-o", str(target)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [int(row["transfer_id"]) for row in rows] == ids[1:4]
    bad = runner.invoke(args=["ledger", "export", "--from", "31/03/2024"])
    assert bad.exit_code == 2 and "--from" in bad.output
    backwards = runner.invoke(
        args=["ledger", "export", "--from", "2024-04-01", "--to", "2024-03-01"]
    )
    assert backwards.exit_code == 2


def test_an_hledger_journal_of_a_period_is_valid(app, runner, book, tmp_path) -> None:
    if not shutil.which("hledger"):
        pytest.skip("hledger is not installed")
    march_2024(app, book)
    journal = tmp_path / "march.journal"
    result = runner.invoke(
        args=["ledger", "export", "--format", "hledger", "--from", "2024-03-01", "--to",
              "2024-03-31", "-o", str(journal)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    output = subprocess.run(
        ["hledger", "-f", str(journal), "balance", "--flat", "--no-total", "-O", "csv"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    balances = dict(row[:2] for row in csv.reader(io.StringIO(output)))
    assert balances[CASH] == "4.06 USD"  # 100 + 101 + 102 + 103 minor units


def test_verify_of_a_period_checks_the_accounts_it_touched(app, runner, book) -> None:
    march_2024(app, book)
    period = ["--from", "2024-03-01", "--to", "2024-03-31"]
    assert runner.invoke(args=["ledger", "verify", *period]).exit_code == 0
    with app.app_context():  # corrupt an account no March transfer touches
        db.session.execute(
            update(ledger.Account).where(ledger.Account.code == "revenue:fees:usd")
            .values(debits_posted=ledger.Account.debits_posted + 1)
        )  # fmt: skip
        db.session.commit()
    assert runner.invoke(args=["ledger", "verify", *period]).exit_code == 0
    whole = runner.invoke(args=["ledger", "verify"])
    assert whole.exit_code == 1 and "revenue:fees:usd" in whole.output
    assert runner.invoke(args=["ledger", "verify", "--from", "2024-03-01"]).exit_code == 1


def test_the_desk_exports_a_period(app, client, auth, book, folder) -> None:  # noqa: F811
    ids = march_2024(app, book)
    auth.login(book.staff)
    answer = client.post(
        "/finance/exports", data={"format": "csv", "start": "2024-03-10", "end": "2024-03-31"}
    )
    assert answer.status_code == 302
    with app.app_context():
        export = db.session.scalar(select(BookExport).order_by(BookExport.id.desc()))
        assert (export.status, export.rows, export.total) == ("done", 3, 3)
        assert (export.start.isoformat(), export.end.isoformat()) == ("2024-03-10", "2024-03-31")
    page = client.get("/finance/exports").get_data(as_text=True)
    assert "2024-03-10 to 2024-03-31" in page
    download = client.get(f"/finance/exports/{export.id}/download").get_data(as_text=True)
    assert [int(r["transfer_id"]) for r in csv.DictReader(io.StringIO(download))] == ids[1:4]
    for bad in (
        {"start": "10/03/2024"},
        {"end": "someday"},
        {"start": "2024-04-01", "end": "2024-03-01"},
    ):
        refused = client.post("/finance/exports", data={"format": "csv"} | bad)
        assert refused.status_code == 422, bad
        assert "days to export" in refused.get_data(as_text=True)


def test_the_api_exports_a_period_and_refuses_bad_days(app, client, book, folder) -> None:  # noqa: F811
    march_2024(app, book)
    staff = bearer(token_for(app, book.staff))
    api = "/api/v1/finance/exports"
    created = client.post(
        api, json={"format": "hledger", "start": "2024-03-01", "end": "2024-03-31"}, headers=staff
    )
    assert created.status_code == 202, created.json
    assert (created.json["rows"], created.json["start"], created.json["end"]) == (
        4,
        "2024-03-01",
        "2024-03-31",
    )
    for bad, field in (({"start": "March"}, "start"), ({"end": "2024-02-30"}, "end"),
                       ({"start": "2024-04-01", "end": "2024-03-01"}, "start")):  # fmt: skip
        refused = client.post(api, json={"format": "csv"} | bad, headers=staff)
        assert refused.status_code == 422 and field in refused.json["errors"], bad
