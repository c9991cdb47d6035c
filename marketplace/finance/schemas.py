from __future__ import annotations

import marshmallow as ma


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
