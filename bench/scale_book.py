"""The money of the scale data set, replayed in time order like the services would post it.

Every business event (a funding, an award, a value report, its payment, a refund, a payout
batch) becomes one journal. Events are sorted by time and written in that order, so ids follow
time, each account's counters are the sums of its transfers, and each transfer's balances after
are the running posted balances of its two accounts in write order (a pending transfer leaves
its own amount out). Payout batches pay what each solver is owed from funded money only, as
``payouts.batches`` does, within a budget that brings the book to the size's transfer count.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench.scale_world import World

CASH = "asset:cash:stripe:usd"
FEES = "revenue:fees:usd"
LIABILITY_RULE = ("liability:escrow:", "liability:payable:")
PAYOUT_MINIMUM = 1_000
#: Payout batches run this often over the two years of history.
BATCH_EVERY_DAYS = 7
PENDING_MINIMUM = 500_000
PENDING_LINES = 200


@dataclass(slots=True)
class Account:
    id: int
    code: str
    type: str
    name: str
    created_at: datetime
    dp: int = 0
    cp: int = 0
    dpend: int = 0
    cpend: int = 0
    version: int = 0
    touched: int = 0

    @property
    def guarded(self) -> bool:
        return self.code.startswith(LIABILITY_RULE)


@dataclass(slots=True)
class Event:
    at: datetime
    key: str
    description: str
    recorded_by: str
    transfers: list[tuple[str, str, int, str, str]]  # debit, credit, amount, code, reference
    owner: Any = None  # gets .journal_id
    pending: bool = False
    payment: tuple | None = None  # (kind, need id, amount, report id or None)
    batch: int = 0  # payout batch number (0: none)


@dataclass
class Book:
    accounts: dict[str, Account] = field(default_factory=dict)
    journals: list[tuple] = field(default_factory=list)
    transfers: list[tuple] = field(default_factory=list)
    payments: list[tuple] = field(default_factory=list)
    batches: list[tuple] = field(default_factory=list)
    lines: list[tuple] = field(default_factory=list)
    #: Everyone ever credited: they all open a payout account (some cannot receive yet).
    owed_users: list[int] = field(default_factory=list)

    def account(self, code: str, at: datetime) -> Account:
        account = self.accounts.get(code)
        if account is None:
            kind = code.split(":", 1)[0]
            account = Account(len(self.accounts) + 1, code, kind, code.replace(":", " "), at)
            self.accounts[code] = account
        return account


def can_receive(user_id: int) -> bool:
    """Whether the user's payout account has payouts enabled (nine in ten have)."""
    return user_id % 10 != 7


def _escrow(need_id: int) -> str:
    return f"liability:escrow:challenge:{need_id}"


def _payable(user_id: int) -> str:
    return f"liability:payable:solver:{user_id}:usd"


def _receivable(org: int) -> str:
    return f"asset:receivable:org:{org}:usd"


def _events(world: World) -> list[Event]:
    events: list[Event] = []
    for need in world.needs:
        if need.status == "draft":
            continue
        amount = need.escrow_required
        events.append(
            Event(need.opened_at - timedelta(hours=1), f"funding:{need.id}",
                  f"Prize pool of challenge {need.id} funded", "stripe",
                  [(CASH, _escrow(need.id), amount, "FUND_ESCROW", f"challenge:{need.id}")],
                  payment=("funding", need.id, amount, None))
        )  # fmt: skip
    spent: dict[int, int] = {}
    for award in world.awards:
        need = award.decision.proposal.need
        spent[need.id] = spent.get(need.id, 0) + award.amount + award.fee
        moves = [(_escrow(need.id), _payable(uid), part, "AWARD", f"award:{award.id}")
                 for uid, part in sorted(award.shares.items()) if part > 0]  # fmt: skip
        if award.fee:
            moves.append((_escrow(need.id), FEES, award.fee, "FEE", f"award:{award.id}"))
        manager = world.staff(need.org, "manager")
        events.append(Event(award.decision.decided_at, f"award:{award.id}",
                            f"Award {award.id}", f"user:{manager}", moves, award))  # fmt: skip
    filed: dict[int, int] = {}
    for report in world.reports:
        award = report.award
        org = award.decision.proposal.need.org
        filed[award.id] = filed.get(award.id, 0) + 1
        moves = [(_receivable(org), _payable(uid), part, "VALUE_SHARE", f"award:{award.id}")
                 for uid, part in sorted(report.shares.items()) if part > 0]  # fmt: skip
        events.append(
            Event(report.reported_at, f"value:award:{award.id}:{filed[award.id]}",
                  f"Value share of award {award.id}, {report.start} to {report.end}",
                  f"user:{world.staff(org, 'finance')}", moves, report)
        )  # fmt: skip
        if report.paid_at is not None:
            events.append(
                Event(report.paid_at, f"value-paid:report:{report.id}",
                      f"Value share of report {report.id} paid", "stripe",
                      [(CASH, _receivable(org), report.share, "VALUE_SHARE_PAID",
                        f"value-report:{report.id}")],
                      payment=("value_share", award.decision.proposal.need.id, report.share,
                               report.id))
            )  # fmt: skip
    for need in world.needs:
        left = need.escrow_required - spent.get(need.id, 0)
        if need.status == "closed" and left > 0:
            events.append(
                Event(need.closed_at + timedelta(hours=1), f"refund:challenge:{need.id}",
                      f"Unspent escrow of challenge {need.id} returned", "system",
                      [(_escrow(need.id), CASH, left, "REFUND", f"challenge:{need.id}")],
                      payment=("refund", need.id, left, None))
            )  # fmt: skip
    return events


def _batch_times(world: World) -> list[datetime]:
    first = world.now - timedelta(days=700)
    times = []
    while first < world.now - timedelta(days=8):
        times.append(first)
        first += timedelta(days=BATCH_EVERY_DAYS)
    return times


def simulate(world: World) -> Book:
    """The whole book: accounts, journals, transfers, payments, payout batches and lines."""
    book = Book()
    events = _events(world)
    fixed = sum(len(event.transfers) for event in events)
    times = _batch_times(world)
    budget = max(0, world.size.transfers - fixed - PENDING_LINES)
    for number, at in enumerate(times, 1):
        events.append(Event(at, "", "", "", [], batch=number))
    events.append(Event(world.now - timedelta(hours=3), "", "", "", [], pending=True,
                        batch=len(times) + 1))  # fmt: skip
    events.sort(key=lambda event: (event.at, event.key))
    funded: dict[int, int] = {}
    report_payees = {report.id: report.shares for report in world.reports}
    remaining_batches = len(times)
    for event in events:
        if event.batch:
            remaining = budget // max(1, remaining_batches) if not event.pending else PENDING_LINES
            _payout_batch(world, book, event, funded, remaining)
            if not event.pending:
                budget -= len(event.transfers)
                remaining_batches -= 1
        elif event.key.startswith("award:"):
            for uid, part in event.owner.shares.items():
                funded[uid] = funded.get(uid, 0) + part
        elif event.key.startswith("value-paid:"):
            for uid, part in report_payees[event.payment[3]].items():
                funded[uid] = funded.get(uid, 0) + part
        if event.transfers:
            _write(book, event)
    book.owed_users = sorted(funded)
    return book


def _payout_batch(world: World, book: Book, event: Event, funded: dict[int, int], cap: int) -> None:
    minimum = PENDING_MINIMUM if event.pending else PAYOUT_MINIMUM
    owed = [(amount, uid) for uid, amount in funded.items()
            if amount >= minimum and can_receive(uid)]  # fmt: skip
    owed.sort(reverse=True)
    payees = sorted(owed[:cap], key=lambda pair: pair[1])
    if not payees:
        return
    number = len(book.batches) + 1
    event.key = f"payout-batch:{number}"
    event.description = f"Payout batch {number}"
    event.recorded_by = f"user:{world.finance[0]}"
    event.transfers = [(_payable(uid), CASH, amount, "PAYOUT", f"payout-batch:{number}")
                       for amount, uid in payees]  # fmt: skip
    event.owner = (number, payees)
    for amount, uid in payees:
        funded[uid] -= amount


def _write(book: Book, event: Event) -> None:
    journal_id = len(book.journals) + 1
    payload = hashlib.sha256(repr(event.transfers).encode()).hexdigest()
    book.journals.append(
        (journal_id, event.key, payload, event.description, event.recorded_by, event.at)
    )
    pending = event.pending
    first_transfer = len(book.transfers) + 1
    seen: set[int] = set()
    for index, (debit_code, credit_code, amount, code, reference) in enumerate(event.transfers):
        debit, credit = book.account(debit_code, event.at), book.account(credit_code, event.at)
        if pending:
            debit.dpend += amount
            credit.cpend += amount
        else:
            debit.dp += amount
            credit.cp += amount
        for account in (debit, credit):
            account.touched += 1
            if account.id not in seen:
                seen.add(account.id)
                account.version += 1
        book.transfers.append(
            (len(book.transfers) + 1, journal_id, f"{event.key}/{index}", debit.id, credit.id,
             "USD", amount, code, reference, "pending" if pending else "posted",
             event.batch > 0, event.recorded_by, event.at, event.at,
             None if pending else event.at, None if pending or not event.batch else event.at,
             debit.dp - debit.cp, credit.dp - credit.cp, debit.version, credit.version, event.at)
        )  # fmt: skip
    if event.batch:
        _batch_rows(book, event, journal_id, first_transfer)
    elif event.payment:
        kind, need_id, amount, report_id = event.payment
        payment_id = len(book.payments) + 1
        book.payments.append(
            (payment_id, kind, need_id, amount, "USD", "sandbox", "settled",
             f"sandbox_{kind}_{payment_id}", report_id, event.at, event.at)
        )  # fmt: skip
    if event.owner is not None and not event.batch:
        event.owner.journal_id = journal_id


def _batch_rows(book: Book, event: Event, journal_id: int, first_transfer: int) -> None:
    number, payees = event.owner
    at = event.at
    status = "prepared" if event.pending else "completed"
    total = sum(amount for amount, _ in payees)
    book.batches.append((number, status, journal_id, at, total, len(payees)))
    for offset, (amount, uid) in enumerate(payees):
        line_id = len(book.lines) + 1
        book.lines.append(
            (line_id, number, uid, amount, first_transfer + offset,
             "reserved" if event.pending else "paid", at)
        )  # fmt: skip
