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
from datetime import date, datetime

import ledger
from ledger import TransferStatus
from marketplace.accounts.models import User
from marketplace.accounts.services import require_platform_finance
from marketplace.finance import reconciliation_queries as queries
from marketplace.finance.journal import day_end, day_start
from marketplace.finance.provider_check import ProviderCheck, check_provider, period
from marketplace.pagination import KeysetPage
from marketplace.payments.discrepancies import discrepancy_page, recent_discrepancies
from marketplace.payments.models import PaymentKind, ProviderDiscrepancy

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
    #: How many differences there are in all; ``differences`` lists the first of each kind.
    difference_count: int = 0

    def show(self, difference: Difference) -> None:
        """List a difference already counted."""
        self.differences.append(difference)

    def add(self, difference: Difference) -> None:
        """Count and list a difference."""
        self.difference_count += 1
        self.differences.append(difference)

    @property
    def listed_all(self) -> bool:
        return len(self.differences) >= self.difference_count

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
        return not self.differences and not self.difference_count


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


#: Items listed per kind of difference; the count says how many there are in all.
LISTED = 100


def reconcile(actor: User, start: date | None = None, end: date | None = None) -> Reconciliation:
    """The provider's totals against the ledger's cash account (all time, grouped in SQL);
    the payments, payout lines and cash transfers of the period (default: the last 30 days)
    that differ, LISTED of each kind at most; the provider's own payout transfers of the
    period against the payout lines."""
    require_platform_finance(actor)
    start, end = period(start, end)
    report: dict[str, CurrencyReconciliation] = {}

    def of(currency: str) -> CurrencyReconciliation:
        if currency not in report:
            flows = {name: Flow(name, FLOW_CODES[name]) for name in FLOW_ORDER}
            report[currency] = CurrencyReconciliation(currency, flows)
        return report[currency]

    cash = []
    for account, currency, balance in queries.cash_accounts():
        of(currency).cash_balance = balance
        cash.append(account)
    _totals(of, cash)
    first, last = day_start(start), day_end(end)
    _item_differences(of, first, last, cash)
    for item in report.values():
        for flow in item.flow_list:
            if flow.difference:
                item.add(
                    Difference(
                        "total_differs",
                        f"{flow.name}: the provider says {_money(flow.provider, item.currency)}, "
                        f"the ledger says {_money(flow.ledger, item.currency)}.",
                        flow.difference,
                    )
                )
    provider = check_provider(start, end)
    for found in provider.differences:
        of(found.currency).add(
            Difference(
                found.kind,
                found.message,
                found.amount,
                payout_line_id=found.payout_line_id,
                provider_transfer_id=found.provider_transfer_id,
            )
        )
    return Reconciliation([report[c] for c in sorted(report)], provider, recent_discrepancies())


def provider_discrepancies(
    actor: User, cursor: str | None, per_page: int
) -> KeysetPage[ProviderDiscrepancy]:
    """What the provider said that did not match, newest first (platform finance staff)."""
    require_platform_finance(actor)
    return discrepancy_page(cursor, per_page)


def _money(amount: int, currency: str) -> str:
    return f"{ledger.format_minor(amount, currency, grouped=True)} {currency}"


def _totals(of, cash: list[int]) -> None:  # noqa: ANN001
    """Flows, in-flight payouts and other cash movements from grouped sums."""
    flow_of_code = {code: name for name, code in FLOW_CODES.items()}
    for total in queries.book_totals(cash):
        item = of(total.currency)
        signed = total.amount if total.money_in else -total.amount
        if total.code == "PAYOUT" and total.status == TransferStatus.PENDING:
            item.in_flight_count += total.count
            item.in_flight_amount += total.amount
        elif total.status != TransferStatus.POSTED:
            continue
        elif total.code in flow_of_code and not total.reversed:
            item.flows[flow_of_code[total.code]].ledger += total.amount
        else:  # other codes, and reversed pairs (they net to zero)
            item.other_cash += signed
    kinds = {kind.value: name for name, (kind, _, _) in PAYMENT_FLOWS.items()}
    for currency, kind, amount in queries.settled_payment_totals():
        of(currency).flows[kinds[kind]].provider += amount
    for currency, amount in queries.paid_line_totals():
        of(currency).flows["payouts"].provider += amount


def _state(item: queries.Item) -> str:
    if item.transfer_id is None:
        return "no ledger transfer"
    if item.reversed:
        return f"ledger transfer {item.transfer_id} was reversed"
    return f"ledger transfer {item.transfer_id} is {item.transfer_status}"


def _item_differences(of, start: datetime, end: datetime, cash: list[int]) -> None:  # noqa: ANN001
    codes = list(FLOW_CODES.values())
    for reader, is_line in ((queries.payment_items, False), (queries.line_items, True)):
        found = reader(start, end, codes, cash, limit=LISTED)
        (missing_counts, missing), (differing_counts, differing) = (
            found[queries.MISSING],
            found[queries.DIFFERING],
        )
        for counts in (missing_counts, differing_counts):
            for currency, count in counts.items():
                of(currency).difference_count += count
        for item in missing:
            label, done = _label(item, is_line)
            of(item.currency).show(
                Difference(
                    "missing_in_ledger",
                    f"The {label} is {done}, but {_state(item)}.",
                    item.amount,
                    **_ids(item, is_line),
                )
            )
        for item in differing:
            label, _ = _label(item, is_line)
            transfer_money = _money(item.transfer_amount or 0, item.transfer_currency or "")
            of(item.currency).show(
                Difference(
                    "amount_differs",
                    f"The {label} is for {_money(item.amount, item.currency)}, its ledger "
                    f"transfer {item.transfer_id} for {transfer_money}.",
                    item.amount - (item.transfer_amount or 0),
                    **_ids(item, is_line),
                )
            )
    counts, transfers = queries.unmatched_transfers(start, end, codes, cash, limit=LISTED)
    for currency, count in counts.items():
        of(currency).difference_count += count
    for t in transfers:
        of(t.currency).show(
            Difference(
                "missing_at_provider",
                f"{t.code} transfer {t.id} ({t.key}) is posted on the cash account, but no "
                "settled payment or paid payout line matches it.",
                t.amount,
                transfer_id=t.id,
            )
        )


def _label(item: queries.Item, is_line: bool) -> tuple[str, str]:
    if is_line:
        return f"payout line {item.id} ({item.external or 'no provider id'})", "paid"
    return f"{item.kind} payment {item.id} ({item.provider})", "settled"


def _ids(item: queries.Item, is_line: bool) -> dict[str, int | None]:
    if is_line:
        return {"payout_line_id": item.id, "transfer_id": item.transfer_id}
    return {"payment_id": item.id, "transfer_id": item.transfer_id}
