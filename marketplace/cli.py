"""Flask commands: staff accounts, demo data, and the ledger's verify / trial balance / export."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

import ledger
from marketplace.errors import Invalid
from marketplace.extensions import db

ledger_cli = AppGroup("ledger", help="Check and export the double-entry ledger.")
challenges_cli = AppGroup("challenges", help="Needs: scheduled work.")
jobs_cli = AppGroup("jobs", help="Background jobs: the rq worker, the scheduler, the outbox.")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="stop once the queues are empty")
def worker_command(burst: bool) -> None:
    """Work the payouts, emails, exports and default queues (needs REDIS_URL)."""
    from flask import current_app

    from marketplace.worker import run_worker

    _require_redis()
    run_worker(current_app._get_current_object(), burst=burst)


@jobs_cli.command("scheduler")
def scheduler_command() -> None:
    """Enqueue the periodic jobs of marketplace.schedule when due (needs REDIS_URL)."""
    from flask import current_app

    from marketplace.worker import build_scheduler

    _require_redis()
    build_scheduler(current_app._get_current_object()).start()


@jobs_cli.command("relay")
def relay_command() -> None:
    """Hand over (or, without Redis, run) the outbox jobs that are still waiting."""
    from marketplace.queue import relay

    click.echo(f"{relay()} job(s) handed over.")


def _require_redis() -> None:
    from flask import current_app

    if not current_app.config.get("REDIS_URL"):
        click.echo("REDIS_URL is not set: jobs run inline, no worker is needed.", err=True)
        sys.exit(2)


@challenges_cli.command("tick")
def tick_command() -> None:
    """Move open needs whose deadline passed to judging (run from cron every few minutes)."""
    from marketplace.challenges.services import advance_deadlines

    moved = advance_deadlines()
    click.echo(f"{moved} need(s) moved to judging.")


def _period_options(function):  # noqa: ANN001, ANN202
    """--from / --to: days (UTC, both included) of the transfers' effective dates."""
    day = click.DateTime(formats=["%Y-%m-%d"])
    function = click.option("--to", "end", type=day, help="last day, YYYY-MM-DD (UTC)")(function)
    return click.option("--from", "start", type=day, help="first day, YYYY-MM-DD (UTC)")(function)


def _period(start: datetime | None, end: datetime | None) -> dict[str, datetime | None]:
    from marketplace.finance.journal import day_end, day_start

    if start and end and start > end:
        raise click.BadParameter("--from must be on or before --to", param_hint="--from")
    return {
        "start": day_start(start.date()) if start else None,
        "end": day_end(end.date()) if end else None,
    }


@ledger_cli.command("verify")
@_period_options
def verify_command(start: datetime | None, end: datetime | None) -> None:
    """Recompute every account from its transfers; exit 1 if any disagrees. With a period,
    only the accounts its transfers touch are checked (each over its whole history)."""
    problems = ledger.verify(db.session, **_period(start, end))
    if problems:
        click.echo(f"The book is WRONG: {len(problems)} discrepancies", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    accounts = len(ledger.trial_balance(db.session))
    click.echo(f"The book is right: {accounts} accounts agree with their transfers.")


def _parse_as_of(_ctx, _param, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2026-01-31T23:59:59+00:00") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2026-01-31T23:59:59Z")
    return moment


@ledger_cli.command("trial-balance")
@click.option("--as-of", callback=_parse_as_of, help="ISO 8601 moment with a time zone")
@click.option("--json", "as_json", is_flag=True, help="one JSON list of accounts")
def trial_balance_command(as_of: datetime | None, as_json: bool) -> None:
    """Posted debits, credits and balance of every account (minor units)."""
    lines = ledger.trial_balance(db.session, as_of)
    if as_json:
        click.echo(json.dumps([line.as_dict() for line in lines], indent=2))
        return
    click.echo(f"{'account':<44} {'cur':<4} {'debits':>14} {'credits':>14} {'balance':>14}")
    for line in lines:
        click.echo(
            f"{line.account:<44} {line.currency:<4} {line.debits:>14} {line.credits:>14} "
            f"{line.balance:>14}"
        )


@ledger_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "hledger"]), default="csv")
@click.option("-o", "--output", type=click.File("w"), default="-", help="file (default stdout)")
@_period_options
def export_command(fmt: str, output, start: datetime | None, end: datetime | None) -> None:  # noqa: ANN001
    """Every transfer (or those effective in a period) as CSV, or as an hledger journal;
    streamed in batches, so memory stays flat whatever the book's size."""
    writer = ledger.export_csv if fmt == "csv" else ledger.export_hledger
    count = writer(db.session, output, **_period(start, end))
    if output is not sys.stdout:
        click.echo(f"{count} transfers written to {output.name}", err=True)


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--name", default="", help="display name (default: the email's local part)")
@click.option("--finance", is_flag=True, help="platform finance staff")
@click.option("--admin", is_flag=True, help="platform administrator")
@click.password_option()
def create_user_command(email: str, name: str, finance: bool, admin: bool, password: str) -> None:
    """Create a user, typically a staff account."""
    from marketplace.accounts.services import register_user

    try:
        user = register_user(
            email, name or email.split("@")[0], password, platform_finance=finance, admin=admin
        )
    except Invalid as error:
        for field, messages in error.errors.items():
            click.echo(f"{field}: {' '.join(messages)}", err=True)
        sys.exit(2)
    roles = [r for r, on in (("finance", finance), ("admin", admin)) if on] or ["user"]
    click.echo(f"Created {user.email} ({', '.join(roles)}).")


@click.command("demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="do nothing when the database has users")
def demo_command(if_empty: bool) -> None:
    """Load demo organizations, people and a book of challenge money flows."""
    from marketplace.demo import (
        DEMO_PASSWORD,
        DEMO_TOTP_SECRET,
        database_is_empty,
        load_demo,
        second_factor_people,
    )

    if if_empty and not database_is_empty():
        click.echo("Database already has data; demo not loaded.")
        return
    summary = load_demo()
    click.echo(summary)
    click.echo(f"Every demo account's password is {DEMO_PASSWORD!r}.")
    click.echo(
        f"These sign in with a second factor too: {', '.join(second_factor_people())}. Their "
        f"authenticator key is {DEMO_TOTP_SECRET} (add it to an authenticator app); or print "
        f"the current code with: .venv/bin/python -c \"import pyotp; "
        f"print(pyotp.TOTP('{DEMO_TOTP_SECRET}').now())\""
    )


def register(app: Flask) -> None:
    app.cli.add_command(ledger_cli)
    app.cli.add_command(challenges_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(create_user_command)
    app.cli.add_command(demo_command)
