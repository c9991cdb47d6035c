from __future__ import annotations

import marshmallow as ma

from marketplace.pagination import CursorQuerySchema, KeysetPageSchema
from marketplace.text_rules import FullMatch

#: PostgreSQL cannot compare text with a NUL character: a field error, not a 500.
NO_NUL = FullMatch(r"^[^\x00]*$", error="Text may not contain NUL characters.")


class TrialBalanceQuerySchema(ma.Schema):
    as_of = ma.fields.AwareDateTime(
        load_default=None, metadata={"description": "ISO 8601 with a time zone"}
    )


class TrialBalanceLineSchema(ma.Schema):
    account = ma.fields.String(metadata={"description": "account code"})
    type = ma.fields.String()
    currency = ma.fields.String()
    debits = ma.fields.Integer(metadata={"description": "minor units"})
    credits = ma.fields.Integer(metadata={"description": "minor units"})
    balance = ma.fields.Integer(metadata={"description": "debits - credits, minor units"})


class TrialBalanceGroupSchema(ma.Schema):
    type = ma.fields.String()
    kind = ma.fields.String(metadata={"description": "second part of the codes, e.g. payable"})
    currency = ma.fields.String()
    accounts = ma.fields.Integer(metadata={"description": "how many accounts it sums"})
    debits = ma.fields.Integer(metadata={"description": "minor units"})
    credits = ma.fields.Integer(metadata={"description": "minor units"})
    balance = ma.fields.Integer(metadata={"description": "debits - credits, minor units"})


class CurrencyTotalSchema(ma.Schema):
    currency = ma.fields.String()
    debits = ma.fields.Integer()
    credits = ma.fields.Integer()


class TrialBalanceSchema(ma.Schema):
    as_of = ma.fields.AwareDateTime(allow_none=True)
    balanced = ma.fields.Boolean(metadata={"description": "debits equal credits per currency"})
    groups = ma.fields.List(
        ma.fields.Nested(TrialBalanceGroupSchema),
        metadata={"description": "one line per account type, kind and currency"},
    )
    totals = ma.fields.Function(
        lambda tb: [{"currency": c, "debits": d, "credits": k} for c, (d, k) in tb.totals.items()],
        metadata={"description": "per currency"},
    )


class TrialBalanceAccountsQuerySchema(CursorQuerySchema):
    type = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(["asset", "liability", "equity", "revenue", "expense"]),
    )
    kind = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=200), NO_NUL])
    currency = ma.fields.String(
        required=True, validate=FullMatch(r"^[A-Z]{3}$", error="Three capitals: USD.")
    )
    as_of = ma.fields.AwareDateTime(
        load_default=None, metadata={"description": "ISO 8601 with a time zone"}
    )


class TrialBalanceAccountsSchema(KeysetPageSchema):
    items = ma.fields.List(ma.fields.Nested(TrialBalanceLineSchema))


class JournalQuerySchema(CursorQuerySchema):
    code = ma.fields.String(
        load_default=None,
        validate=[ma.validate.Length(max=40), NO_NUL],
        metadata={"description": "transfer code, e.g. FUND_ESCROW, AWARD, PAYOUT"},
    )
    account = ma.fields.String(
        load_default=None,
        validate=[ma.validate.Length(max=200), NO_NUL],
        metadata={
            "description": "an account code: that account and the accounts under it "
            "(`liability:escrow` matches every escrow account)"
        },
    )
    reference = ma.fields.String(
        load_default=None,
        validate=[ma.validate.Length(max=200), NO_NUL],
        metadata={"description": "exact reference, e.g. `challenge:4`"},
    )
    start = ma.fields.Date(
        load_default=None, metadata={"description": "effective on or after this day (UTC)"}
    )
    end = ma.fields.Date(
        load_default=None, metadata={"description": "effective on or before this day (UTC)"}
    )


class TransferSchema(ma.Schema):
    id = ma.fields.Integer()
    journal_id = ma.fields.Integer()
    journal_key = ma.fields.String()
    description = ma.fields.String()
    key = ma.fields.String(metadata={"description": "the transfer's idempotency key"})
    code = ma.fields.String()
    debit_account = ma.fields.String()
    credit_account = ma.fields.String()
    amount = ma.fields.Integer(metadata={"description": "minor units"})
    currency = ma.fields.String()
    status = ma.fields.String(metadata={"description": "pending, posted or voided"})
    reference = ma.fields.String()
    reverses_id = ma.fields.Integer(allow_none=True)
    recorded_by = ma.fields.String()
    effective_at = ma.fields.DateTime()
    recorded_at = ma.fields.DateTime()
    posted_at = ma.fields.DateTime(allow_none=True)


class JournalPageSchema(KeysetPageSchema):
    items = ma.fields.List(ma.fields.Nested(TransferSchema))


class AccountSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    type = ma.fields.String()
    currency = ma.fields.String()
    balance = ma.fields.Integer(metadata={"description": "posted debits - credits, minor units"})
    debits_pending = ma.fields.Integer()
    credits_pending = ma.fields.Integer()


class AccountPageSchema(KeysetPageSchema):
    items = ma.fields.List(ma.fields.Nested(AccountSchema))


class StatementQuerySchema(CursorQuerySchema):
    account = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=200), NO_NUL])


class StatementLineSchema(ma.Schema):
    transfer_id = ma.fields.Integer()
    journal_id = ma.fields.Integer()
    code = ma.fields.String()
    reference = ma.fields.String()
    counterparty = ma.fields.String(metadata={"description": "the other account's code"})
    debit = ma.fields.Integer(metadata={"description": "minor units"})
    credit = ma.fields.Integer(metadata={"description": "minor units"})
    balance = ma.fields.Integer(metadata={"description": "posted balance after this transfer"})
    effective_at = ma.fields.DateTime()
    posted_at = ma.fields.DateTime()
    written_at = ma.fields.DateTime(metadata={"description": "when the book recorded it"})


class StatementSchema(KeysetPageSchema):
    account = ma.fields.Function(lambda s: s.account.code)
    currency = ma.fields.Function(lambda s: s.account.currency)
    balance = ma.fields.Integer(metadata={"description": "the posted balance now"})
    lines = ma.fields.List(
        ma.fields.Nested(StatementLineSchema),
        metadata={"description": "newest first, in the order the book wrote them"},
    )


class BalanceQuerySchema(ma.Schema):
    account = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=200), NO_NUL])
    as_of = ma.fields.Date(required=True, metadata={"description": "end of this day (UTC)"})


class BalanceSchema(ma.Schema):
    account = ma.fields.String()
    currency = ma.fields.String()
    as_of = ma.fields.Date()
    balance = ma.fields.Integer(metadata={"description": "posted debits - credits, minor units"})


class FlowSchema(ma.Schema):
    name = ma.fields.String()
    code = ma.fields.String(metadata={"description": "the ledger code that records it"})
    provider = ma.fields.Integer(metadata={"description": "the provider's total, minor units"})
    ledger = ma.fields.Integer(metadata={"description": "the ledger's total, minor units"})
    difference = ma.fields.Integer()


class DifferenceSchema(ma.Schema):
    kind = ma.fields.String()
    message = ma.fields.String()
    amount = ma.fields.Integer()
    payment_id = ma.fields.Integer(allow_none=True)
    payout_line_id = ma.fields.Integer(allow_none=True)
    transfer_id = ma.fields.Integer(allow_none=True)
    provider_transfer_id = ma.fields.String(
        allow_none=True, metadata={"description": "the provider's transfer, when it is about one"}
    )


class CurrencyReconciliationSchema(ma.Schema):
    currency = ma.fields.String()
    flows = ma.fields.List(ma.fields.Nested(FlowSchema), attribute="flow_list")
    provider_net = ma.fields.Integer()
    ledger_net = ma.fields.Integer()
    cash_balance = ma.fields.Integer()
    other_cash = ma.fields.Integer()
    in_flight_count = ma.fields.Integer()
    in_flight_amount = ma.fields.Integer()
    differences = ma.fields.List(
        ma.fields.Nested(DifferenceSchema),
        metadata={"description": "the first differences of each kind (see difference_count)"},
    )
    difference_count = ma.fields.Integer(metadata={"description": "differences in all"})
    clean = ma.fields.Boolean()


class ReconciliationQuerySchema(ma.Schema):
    start = ma.fields.Date(
        load_default=None,
        metadata={"description": "first day (UTC) of the provider's transfers checked"},
    )
    end = ma.fields.Date(load_default=None, metadata={"description": "last day (UTC)"})


class ProviderCheckSchema(ma.Schema):
    provider = ma.fields.String()
    start = ma.fields.Date()
    end = ma.fields.Date()
    transfers = ma.fields.Integer(metadata={"description": "transfers the provider listed"})
    error = ma.fields.String(
        allow_none=True, metadata={"description": "why the provider could not be asked"}
    )


class ProviderDiscrepancySchema(ma.Schema):
    id = ma.fields.Integer()
    provider = ma.fields.String()
    kind = ma.fields.String()
    message = ma.fields.String()
    event_id = ma.fields.String(allow_none=True)
    event_type = ma.fields.String()
    object_id = ma.fields.String(allow_none=True)
    payout_line_id = ma.fields.Integer(allow_none=True)
    amount = ma.fields.Integer(allow_none=True)
    currency = ma.fields.String(allow_none=True)
    recorded_at = ma.fields.DateTime()


class ProviderDiscrepancyPageSchema(KeysetPageSchema):
    items = ma.fields.List(ma.fields.Nested(ProviderDiscrepancySchema))


class ReconciliationSchema(ma.Schema):
    clean = ma.fields.Boolean()
    currencies = ma.fields.List(ma.fields.Nested(CurrencyReconciliationSchema))
    provider = ma.fields.Nested(ProviderCheckSchema, allow_none=True)
    provider_discrepancies = ma.fields.List(
        ma.fields.Nested(ProviderDiscrepancySchema),
        metadata={
            "description": "the newest webhooks that did not match what was sent (not "
            "applied); all of them at /finance/provider-discrepancies"
        },
    )


class PointSchema(ma.Schema):
    day = ma.fields.Date()
    amount = ma.fields.Integer()


class SeriesSchema(ma.Schema):
    currency = ma.fields.String()
    points = ma.fields.List(ma.fields.Nested(PointSchema))


class BarSchema(ma.Schema):
    label = ma.fields.String()
    amount = ma.fields.Integer()
    count = ma.fields.Integer()


class BarsSchema(ma.Schema):
    currency = ma.fields.String()
    bars = ma.fields.List(ma.fields.Nested(BarSchema))


class DashboardSchema(ma.Schema):
    escrow = ma.fields.List(ma.fields.Nested(SeriesSchema))
    payouts = ma.fields.List(ma.fields.Nested(BarsSchema))
    value_shared = ma.fields.List(ma.fields.Nested(BarsSchema))


EXPORT_FORMATS = ["csv", "hledger"]
EXPORT_STATUSES = ["queued", "running", "done", "failed"]


class ExportInputSchema(ma.Schema):
    format = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(EXPORT_FORMATS),
        metadata={"description": "csv (one row per transfer) or hledger (a journal)"},
    )
    start = ma.fields.Date(
        load_default=None,
        metadata={"description": "first day (UTC) of the transfers' effective dates; empty: all"},
    )
    end = ma.fields.Date(
        load_default=None, metadata={"description": "last day (UTC), included; empty: all"}
    )


class ExportPeriodSchema(ma.Schema):
    """The period fields of the desk's export form."""

    start = ma.fields.Date(load_default=None)
    end = ma.fields.Date(load_default=None)


class ExportRequesterSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    email = ma.fields.String()


class ExportSchema(ma.Schema):
    id = ma.fields.Integer()
    format = ma.fields.String(validate=ma.validate.OneOf(EXPORT_FORMATS))
    status = ma.fields.String(
        validate=ma.validate.OneOf(EXPORT_STATUSES),
        metadata={"description": "queued, running, done (the file can be downloaded) or failed"},
    )
    rows = ma.fields.Integer(
        metadata={"description": "rows (CSV) or transactions (hledger) written so far"}
    )
    total = ma.fields.Integer(
        metadata={"description": "transfers in the book (or the period) when requested"}
    )
    start = ma.fields.Date(allow_none=True, metadata={"description": "first day, or null"})
    end = ma.fields.Date(allow_none=True, metadata={"description": "last day, or null"})
    error = ma.fields.String(metadata={"description": "why it failed; empty otherwise"})
    requested_by = ma.fields.Nested(ExportRequesterSchema)
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    file_url = ma.fields.String(
        allow_none=True, metadata={"description": "where to download the file once done"}
    )
