"""Reconciliation: what the payment provider says moved against the ledger's cash account.

Per currency, each flow of money through the provider (settled funding in, settled refunds out,
settled value-share payments in, paid payout lines out) is set against the posted transfers on
the cash account that record it (FUND_ESCROW, REFUND, VALUE_SHARE_PAID, PAYOUT). Items are
matched by key: a payment's transfer has the idempotency key ``payment:<payment id>``; a payout
line names its transfer (``PayoutLine.transfer_id``). A posted transfer that was later reversed
counts as not posted (its reversal undoes it on the cash account). Pending PAYOUT transfers are
money in flight: listed, not a difference.

Then the provider itself is asked (``provider_check``): its payout transfers of a period against
the payout lines; what it disagrees on is a difference of its currency too. What webhooks said
that did not match what we sent (``ProviderDiscrepancy`` rows, recorded and not applied) is
listed alongside for finance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

import ledger
from ledger import TransferStatus
from marketplace.accounts.models import User
from marketplace.accounts.services import require_platform_finance
from marketplace.extensions import db
from marketplace.finance.provider_check import ProviderCheck, check_provider, period
from marketplace.payments.discrepancies import recent_discrepancies
from marketplace.payments.models import Payment, PaymentKind, PaymentStatus, ProviderDiscrepancy
from marketplace.payouts.models import LineStatus, PayoutLine

CASH = "asset:cash:stripe:"
#: flow name -> (payment kind, ledger code, +1 money in / -1 money out)
PAYMENT_FLOWS = {
    "funding": (PaymentKind.FUNDING, "FUND_ESCROW", 1),
    "refunds": (PaymentKind.REFUND, "REFUND", -1),
    "value_share": (PaymentKind.VALUE_SHARE, "VALUE_SHARE_PAID", 1),
}
FLOW_ORDER = ("funding", "refunds", "value_share", "payouts")
FLOW_CODES = {name: code for name, (_, code, _) in PAYMENT_FLOWS.items()} | {"payouts": "PAYOUT"}


@dataclass
class Flow:
    name: str
    code: str
    provider: int = 0
    ledger: int = 0

    @property
    def difference(self) -> int:
        return self.provider - self.ledger


@dataclass(frozen=True)
class Difference:
    kind: str  # missing_in_ledger, missing_at_provider, amount_differs, total_differs
    message: str
    amount: int
    payment_id: int | None = None
    payout_line_id: int | None = None
    transfer_id: int | None = None
    provider_transfer_id: str | None = None


@dataclass
class CurrencyReconciliation:
    currency: str
    flows: dict[str, Flow]
    cash_balance: int = 0
    other_cash: int = 0  # net posted cash movements of other codes
    in_flight_count: int = 0
    in_flight_amount: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def provider_net(self) -> int:
        return sum(self._signed(f.provider, f.name) for f in self.flows.values())

    @property
    def ledger_net(self) -> int:
        return sum(self._signed(f.ledger, f.name) for f in self.flows.values())

    @staticmethod
    def _signed(amount: int, name: str) -> int:
        return -amount if name in ("refunds", "payouts") else amount

    @property
    def flow_list(self) -> list[Flow]:
        return [self.flows[name] for name in FLOW_ORDER]

    @property
    def clean(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class Reconciliation:
    currencies: list[CurrencyReconciliation]
    provider: ProviderCheck | None = None
    provider_discrepancies: list[ProviderDiscrepancy] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Every currency matches, and the provider could be asked (not knowing is not
        clean). Recorded discrepancies are listed for finance, apart: they were not applied."""
        asked = self.provider is None or self.provider.error is None
        return asked and all(c.clean for c in self.currencies)


class _Book:
    """The cash account's transfers, read once."""

    def __init__(self) -> None:
        cash_ids = dict(
            db.session.execute(
                select(ledger.Account.id, ledger.Account.currency).where(
                    ledger.Account.code.startswith(CASH)
                )
            ).all()
        )
        self.cash_accounts = list(
            db.session.scalars(select(ledger.Account).where(ledger.Account.id.in_(cash_ids)))
        )
        self.transfers = list(
            db.session.scalars(
                select(ledger.Transfer)
                .where(
                    ledger.Transfer.debit_account_id.in_(cash_ids)
                    | ledger.Transfer.credit_account_id.in_(cash_ids)
                )
                .order_by(ledger.Transfer.id)
            )
        )
        self.cash_ids = set(cash_ids)
        self.reversed = {t.reverses_id for t in self.transfers if t.reverses_id}
        self.by_key = {t.key: t for t in self.transfers}
        self.by_id = {t.id: t for t in self.transfers}

    def effective(self, transfer: ledger.Transfer) -> bool:
        """Posted and not undone by a reversal (nor itself the reversal of one)."""
        return (
            transfer.status == TransferStatus.POSTED
            and transfer.id not in self.reversed
            and transfer.reverses_id not in self.by_id
        )

    def state(self, transfer: ledger.Transfer | None) -> str:
        if transfer is None:
            return "no ledger transfer"
        if transfer.id in self.reversed:
            return f"ledger transfer {transfer.id} was reversed"
        return f"ledger transfer {transfer.id} is {transfer.status}"


def reconcile(actor: User, start: date | None = None, end: date | None = None) -> Reconciliation:
    """The provider's totals against the ledger's cash account, the provider's own payout
    transfers of the period (default: the last 30 days) against the payout lines, and every
    difference."""
    require_platform_finance(actor)
    start, end = period(start, end)
    book = _Book()
    report: dict[str, CurrencyReconciliation] = {}

    def of(currency: str) -> CurrencyReconciliation:
        if currency not in report:
            flows = {name: Flow(name, FLOW_CODES[name]) for name in FLOW_ORDER}
            report[currency] = CurrencyReconciliation(currency, flows)
        return report[currency]

    for account in book.cash_accounts:
        of(account.currency).cash_balance = account.balance
    matched = _ledger_side(book, of)
    _payments(book, of, matched)
    _payouts(book, of, matched)
    for transfer_id in sorted(set(matched) - set(matched_ids(matched))):
        t = book.by_id[transfer_id]
        of(t.currency).differences.append(
            Difference(
                "missing_at_provider",
                f"{t.code} transfer {t.id} ({t.key}) is posted on the cash account, but no "
                "settled payment or paid payout line matches it.",
                t.amount,
                transfer_id=t.id,
            )
        )
    for item in report.values():
        for flow in item.flow_list:
            if flow.difference:
                item.differences.append(
                    Difference(
                        "total_differs",
                        f"{flow.name}: the provider says {_money(flow.provider, item.currency)}, "
                        f"the ledger says {_money(flow.ledger, item.currency)}.",
                        flow.difference,
                    )
                )
    provider = check_provider(start, end)
    for found in provider.differences:
        of(found.currency).differences.append(
            Difference(
                found.kind,
                found.message,
                found.amount,
                payout_line_id=found.payout_line_id,
                provider_transfer_id=found.provider_transfer_id,
            )
        )
    return Reconciliation([report[c] for c in sorted(report)], provider, recent_discrepancies())


def _money(amount: int, currency: str) -> str:
    return f"{ledger.format_minor(amount, currency, grouped=True)} {currency}"


def matched_ids(matched: dict[int, bool]) -> list[int]:
    return [transfer_id for transfer_id, found in matched.items() if found]


def _ledger_side(book: _Book, of) -> dict[int, bool]:
    """Ledger totals per flow; returns {transfer id: matched yet} for the flows' transfers."""
    flow_of_code = {code: name for name, code in FLOW_CODES.items()}
    matched: dict[int, bool] = {}
    for t in book.transfers:
        item = of(t.currency)
        if t.code == "PAYOUT" and t.status == TransferStatus.PENDING:
            item.in_flight_count += 1
            item.in_flight_amount += t.amount
            continue
        if not book.effective(t):
            if t.status == TransferStatus.POSTED:  # a reversed pair: nets to zero
                item.other_cash += t.amount if t.debit_account_id in book.cash_ids else -t.amount
            continue
        name = flow_of_code.get(t.code)
        if name is None:
            item.other_cash += t.amount if t.debit_account_id in book.cash_ids else -t.amount
            continue
        item.flows[name].ledger += t.amount
        matched[t.id] = False
    return matched


def _payments(book: _Book, of, matched: dict[int, bool]) -> None:
    kinds = {kind.value: name for name, (kind, _, _) in PAYMENT_FLOWS.items()}
    payments = db.session.scalars(
        select(Payment).where(Payment.status == PaymentStatus.SETTLED).order_by(Payment.id)
    )
    for payment in payments:
        name = kinds[payment.kind]
        item = of(payment.currency)
        item.flows[name].provider += payment.amount
        transfer = book.by_key.get(f"payment:{payment.id}")
        label = f"{payment.kind} payment {payment.id} ({payment.provider})"
        if transfer is None or not book.effective(transfer) or transfer.id not in matched:
            item.differences.append(
                Difference(
                    "missing_in_ledger",
                    f"The {label} is settled, but {book.state(transfer)}.",
                    payment.amount,
                    payment_id=payment.id,
                    transfer_id=transfer.id if transfer else None,
                )
            )
            continue
        matched[transfer.id] = True
        if transfer.amount != payment.amount:
            item.differences.append(
                Difference(
                    "amount_differs",
                    f"The {label} is for {_money(payment.amount, payment.currency)}, its ledger "
                    f"transfer {transfer.id} for {_money(transfer.amount, transfer.currency)}.",
                    payment.amount - transfer.amount,
                    payment_id=payment.id,
                    transfer_id=transfer.id,
                )
            )


def _payouts(book: _Book, of, matched: dict[int, bool]) -> None:
    lines = db.session.scalars(
        select(PayoutLine).where(PayoutLine.status == LineStatus.PAID).order_by(PayoutLine.id)
    )
    for line in lines:
        item = of(line.currency)
        item.flows["payouts"].provider += line.amount
        transfer = book.by_id.get(line.transfer_id)
        label = f"payout line {line.id} ({line.provider_transfer_id or 'no provider id'})"
        if transfer is None or not book.effective(transfer) or transfer.id not in matched:
            item.differences.append(
                Difference(
                    "missing_in_ledger",
                    f"The {label} is paid, but {book.state(transfer)}.",
                    line.amount,
                    payout_line_id=line.id,
                    transfer_id=line.transfer_id,
                )
            )
            continue
        matched[transfer.id] = True
        if transfer.amount != line.amount:
            item.differences.append(
                Difference(
                    "amount_differs",
                    f"The {label} is for {_money(line.amount, line.currency)}, its ledger "
                    f"transfer {transfer.id} for {_money(transfer.amount, transfer.currency)}.",
                    line.amount - transfer.amount,
                    payout_line_id=line.id,
                    transfer_id=transfer.id,
                )
            )
