"""The figures behind the finance dashboard's charts, in integer minor units.

- escrow held over time: what all escrow accounts in scope hold (credits minus debits) at the
  end of each day, or each week when the span is long, over the last 12 months at most;
- payouts per month: posted PAYOUT transfers by the month they were posted;
- value shared per organization: VALUE_SHARE transfers (not reversed) by the organization
  whose receivable they debit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from markupsafe import Markup
from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

import ledger
from ledger import TransferStatus, utcnow
from marketplace.accounts.models import User
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.finance.access import ESCROW, RECEIVABLE, Scope, finance_scope
from marketplace.finance.access import organization_names as names_of
from marketplace.finance.charts import Datum, bar_chart, line_chart
from marketplace.finance.daily_totals import Coverage, coverage, live, materialised, unindexed
from marketplace.finance.models import DailyTotal
from marketplace.finance.sql import as_date, utc_day

SPAN_DAYS = 365
DAILY_UP_TO_DAYS = 92


@dataclass(frozen=True)
class Point:
    day: date
    amount: int


@dataclass(frozen=True)
class Bar:
    label: str
    amount: int
    count: int = 0


@dataclass(frozen=True)
class Series:
    currency: str
    points: list[Point]


@dataclass(frozen=True)
class Bars:
    currency: str
    bars: list[Bar]


@dataclass(frozen=True)
class Dashboard:
    escrow: list[Series]
    payouts: list[Bars]
    value_shared: list[Bars]


def dashboard(actor: User, today: date | None = None) -> Dashboard:
    scope = finance_scope(actor)
    today = today or utcnow().date()
    # The whole book sums its closed days from the daily totals; an organization's part of it
    # is read live through its accounts' indexes.
    cover = coverage() if scope.everything else None
    return Dashboard(
        escrow_held(scope, today, cover),
        payouts_per_month(scope, today, cover),
        value_shared(scope, cover),
    )


def _daily_sums(cover: Coverage | None, group: list, *conditions) -> list:
    """(group..., amount, count) summed from the daily totals; none before the first fill."""
    if cover is None:
        return []
    return db.session.execute(
        select(*group, func.sum(DailyTotal.amount), func.sum(DailyTotal.count))
        .where(*conditions)
        .group_by(*group)
    ).all()


def _reversed_sums(cover: Coverage | None, group: list, *conditions) -> list:
    """(group..., -amount, -count) of the materialised transfers a reversal undid: the daily
    totals hold them, the charts leave them out. Read from the reversals (few, indexed)."""
    if cover is None:
        return []
    reversal = aliased(ledger.Transfer)
    rows = db.session.execute(
        select(*group, func.sum(ledger.Transfer.amount), func.count())
        .select_from(reversal)
        .join(ledger.Transfer, ledger.Transfer.id == reversal.reverses_id)
        .where(
            reversal.reverses_id.is_not(None),
            ledger.Transfer.status == TransferStatus.POSTED,
            materialised(cover),
            *conditions,
        )
        .group_by(*group)
    ).all()
    return [(*row[:-2], -int(row[-2]), -row[-1]) for row in rows]


def _posted_sums(scope: Scope, group: list, *conditions) -> list:
    """(group..., sum of amount, count) of the posted transfers in scope, grouped in SQL."""
    return db.session.execute(
        select(*group, func.sum(ledger.Transfer.amount), func.count())
        .where(
            ledger.Transfer.status == TransferStatus.POSTED,
            scope.transfer_condition(),
            *conditions,
        )
        .group_by(*group)
    ).all()


def _not_reversed():
    """Transfers no reversal points at."""
    reversal = aliased(ledger.Transfer)
    return ~exists().where(reversal.reverses_id == ledger.Transfer.id)


def _escrow_changes(scope: Scope, cover: Coverage | None) -> dict[str, dict[date, int]]:
    """Per currency and day (UTC) of posting, what escrow in scope gained (credits) net of
    what it lost (debits): one grouped query per side, and the daily totals."""
    changes: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for currency, when, measure, amount, _ in _daily_sums(
        cover,
        [DailyTotal.currency, DailyTotal.day, DailyTotal.measure],
        DailyTotal.measure.in_(("escrow_in", "escrow_out")),
    ):
        changes[currency][as_date(when)] += (1 if measure == "escrow_in" else -1) * int(amount)
    day = utc_day(ledger.Transfer.posted_at)
    for column, sign in (
        (ledger.Transfer.credit_account_id, 1),
        (ledger.Transfer.debit_account_id, -1),
    ):
        escrow = select(ledger.Account.id).where(
            ledger.Account.code.startswith(ESCROW), scope.account_condition()
        )
        for currency, when, amount, _ in _posted_sums(
            scope,
            [ledger.Transfer.currency, day],
            unindexed(column, cover).in_(escrow),
            live(cover),
        ):
            changes[currency][as_date(when)] += sign * int(amount)
    return changes


def escrow_held(scope: Scope, today: date, cover: Coverage | None = None) -> list[Series]:
    changes = _escrow_changes(scope, cover)
    result = []
    for currency in sorted(changes):
        by_day = changes[currency]
        first = max(min(by_day), today - timedelta(days=SPAN_DAYS))
        step = 1 if (today - first).days <= DAILY_UP_TO_DAYS else 7
        held = sum(amount for day, amount in by_day.items() if day < first)
        points, day = [], first
        pending_days = sorted(d for d in by_day if d >= first)
        while True:
            end = min(day, today)
            while pending_days and pending_days[0] <= end:
                held += by_day[pending_days.pop(0)]
            points.append(Point(end, held))
            if end >= today:
                break
            day += timedelta(days=step)
        result.append(Series(currency, points))
    return result


def _months(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def payouts_per_month(scope: Scope, today: date, cover: Coverage | None = None) -> list[Bars]:
    totals: dict[str, dict[date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    day = utc_day(ledger.Transfer.posted_at)
    payout = ledger.Transfer.code == "PAYOUT"
    live_payout = unindexed(ledger.Transfer.code, cover) == "PAYOUT"
    by_day = [ledger.Transfer.currency, day]
    rows = [
        *_posted_sums(scope, by_day, live_payout, _not_reversed(), live(cover)),
        *_daily_sums(
            cover,
            [DailyTotal.currency, DailyTotal.day],
            DailyTotal.measure == "transfers",
            DailyTotal.code == "PAYOUT",
        ),
        *_reversed_sums(cover, [ledger.Transfer.currency, day], payout),
    ]
    for currency, when, amount, count in rows:
        month = totals[currency][as_date(when).replace(day=1)]
        month[0] += int(amount)
        month[1] += count
    result = []
    last = today.replace(day=1)
    for currency in sorted(totals):
        months = totals[currency]
        first = max(min(months), (last - timedelta(days=334)).replace(day=1))
        bars = [
            Bar(m.strftime("%b %Y"), months[m][0], months[m][1]) if m in months
            else Bar(m.strftime("%b %Y"), 0, 0)
            for m in _months(first, last)
        ]  # fmt: skip
        result.append(Bars(currency, bars))
    return result


def value_shared(scope: Scope, cover: Coverage | None = None) -> list[Bars]:
    receivables = dict(
        db.session.execute(
            select(ledger.Account.id, ledger.Account.code).where(
                ledger.Account.code.startswith(RECEIVABLE), scope.account_condition()
            )
        ).all()
    )
    totals: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    by_account = [ledger.Transfer.currency, ledger.Transfer.debit_account_id]
    share = ledger.Transfer.code == "VALUE_SHARE"
    debits_receivable = ledger.Transfer.debit_account_id.in_(list(receivables))
    live_share = unindexed(ledger.Transfer.code, cover) == "VALUE_SHARE"
    live_debits = unindexed(ledger.Transfer.debit_account_id, cover).in_(list(receivables))
    rows = [
        *_posted_sums(scope, by_account, live_share, _not_reversed(), live_debits, live(cover)),
        *_daily_sums(
            cover,
            [DailyTotal.currency, DailyTotal.account_id],
            DailyTotal.measure == "receivable_debit",
            DailyTotal.code == "VALUE_SHARE",
        ),
        *_reversed_sums(cover, by_account, share, debits_receivable),
    ]
    for currency, account_id, amount, count in rows:
        if account_id not in receivables:
            continue
        organization_id = int(receivables[account_id].split(":")[3])
        total = totals[currency][organization_id]
        total[0] += int(amount)
        total[1] += count
    names = names_of({org for by_org in totals.values() for org in by_org})
    result = []
    for currency in sorted(totals):
        bars = [
            Bar(names.get(org, f"Organization {org}"), amount, count)
            for org, (amount, count) in totals[currency].items()
        ]
        bars.sort(key=lambda bar: (-bar.amount, bar.label))
        result.append(Bars(currency, bars))
    return result


CHARTS = ("escrow", "payouts", "value-shared")


def _escrow_svg(series: Series) -> Markup:
    data = [Datum(p.day.strftime("%d %b %Y"), p.amount) for p in series.points]
    return line_chart("Escrow held", data, series.currency)


def _bars_svg(title: str, bars: Bars, noun: str) -> Markup:
    data = [
        Datum(b.label, b.amount, f"{b.count} {noun}{'' if b.count == 1 else 's'}")
        for b in bars.bars
    ]
    return bar_chart(title, data, bars.currency)


def svg_charts(figures: Dashboard) -> dict[str, list[Markup]]:
    """Each chart as SVG, one per currency; an empty chart says so."""
    return {
        "escrow": [_escrow_svg(s) for s in figures.escrow]
        or [line_chart("Escrow held", [], "USD", "No escrow has been funded yet.")],
        "payouts": [_bars_svg("Payouts per month", b, "payout") for b in figures.payouts]
        or [bar_chart("Payouts per month", [], "USD", "No payout has been posted yet.")],
        "value-shared": [
            _bars_svg("Value shared per organization", b, "transfer") for b in figures.value_shared
        ]
        or [bar_chart("Value shared per organization", [], "USD", "No value shared yet.")],
    }


def dashboard_charts(actor: User) -> dict[str, list[Markup]]:
    """The dashboard's charts as inline SVG, for the part of the book ``actor`` may read."""
    return svg_charts(dashboard(actor))


def chart_svg(actor: User, name: str) -> str:
    """One chart as a standalone SVG document (the first currency's, for several)."""
    if name not in CHARTS:
        raise NotFound(f"No chart {name!r}; there are {', '.join(CHARTS)}.")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + str(svg_charts(dashboard(actor))[name][0])
