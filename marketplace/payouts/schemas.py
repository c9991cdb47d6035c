"""Input and output shapes of the payouts API: payout accounts and payout batches.

Money is integer minor units; a batch's minimum is a strict integer (no floats, no strings).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from marketplace.accounts.models import User
from marketplace.challenges.schemas import StorableTextMixin
from marketplace.extensions import db
from marketplace.pagination import KeysetPageSchema
from marketplace.payouts.batches import MAX_MINIMUM
from marketplace.payouts.models import BatchStatus, LineStatus
from marketplace.text_rules import FullMatch


class Shown:
    """An object as a response schema sees it, with a few attributes added."""

    def __init__(self, wrapped: object, **extra: object) -> None:
        self._wrapped = wrapped
        self.__dict__.update(extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def rejecter(batch: Any) -> User | None:
    return db.session.get(User, batch.rejected_by_id) if batch.rejected_by_id else None


class PayoutAccountSchema(ma.Schema):
    provider = ma.fields.String(metadata={"description": "stripe or sandbox"})
    external_id = ma.fields.String(metadata={"description": "the provider's account id"})
    payouts_enabled = ma.fields.Boolean(
        metadata={"description": "the provider confirmed the account can receive payouts"}
    )
    details_submitted = ma.fields.Boolean()
    sandbox = ma.fields.Boolean(metadata={"description": "sandbox provider: no real money"})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class MyPayoutAccountSchema(ma.Schema):
    account = ma.fields.Nested(
        PayoutAccountSchema,
        allow_none=True,
        metadata={"description": "null until payout onboarding is started"},
    )


class OnboardingSchema(ma.Schema):
    account = ma.fields.Nested(PayoutAccountSchema)
    onboarding_url = ma.fields.String(
        allow_none=True,
        metadata={"description": "where to finish onboarding; null when payouts are enabled"},
    )


class BatchInputSchema(StorableTextMixin, ma.Schema):
    currency = ma.fields.String(
        required=True,
        validate=FullMatch(r"^[A-Z]{3}$", error="Use a currency code like USD."),
    )
    minimum = ma.fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=1, max=MAX_MINIMUM),
        metadata={"description": "minor units: only solvers owed at least this are paid"},
    )


class ApprovalInputSchema(ma.Schema):
    code = ma.fields.String(
        required=True,
        validate=validate.Length(min=1, max=40),
        metadata={
            "description": "a current code of your authenticator app: every approval asks "
            "for a fresh one (a code is accepted once)"
        },
    )


class RejectionInputSchema(StorableTextMixin, ma.Schema):
    reason = ma.fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=4_000),
            validate.Regexp(r"\S", error="Say why the batch is rejected."),
        ],
    )


class ReleaseInputSchema(StorableTextMixin, ma.Schema):
    reason = ma.fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=4_000),
            validate.Regexp(r"\S", error="Say why the line is released."),
        ],
    )


class ProgressSchema(ma.Schema):
    batch_id = ma.fields.Integer()
    status = ma.fields.String(validate=validate.OneOf([s.value for s in BatchStatus]))
    line_count = ma.fields.Integer()
    done = ma.fields.Integer(
        metadata={"description": "lines settled: paid, failed, released or reversed"}
    )
    waiting_for_finance = ma.fields.Integer(
        metadata={"description": "lines never answered under any key: release them"}
    )
    counts = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.OneOf([s.value for s in LineStatus])),
        values=ma.fields.Integer(),
        metadata={"description": "lines per status"},
    )


class PersonSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    email = ma.fields.String()


class BatchSchema(ma.Schema):
    id = ma.fields.Integer()
    currency = ma.fields.String()
    minimum = ma.fields.Integer(metadata={"description": "minor units"})
    status = ma.fields.String(validate=validate.OneOf([s.value for s in BatchStatus]))
    total = ma.fields.Integer(metadata={"description": "minor units"})
    line_count = ma.fields.Integer()
    prepared_by = ma.fields.Nested(PersonSchema)
    prepared_at = ma.fields.DateTime()
    approved_by = ma.fields.Nested(PersonSchema, allow_none=True)
    approved_at = ma.fields.DateTime(allow_none=True)
    rejected_by = ma.fields.Nested(PersonSchema, allow_none=True)
    rejected_at = ma.fields.DateTime(allow_none=True)
    rejection_reason = ma.fields.String()
    completed_at = ma.fields.DateTime(allow_none=True)

    @ma.pre_dump
    def _with_rejecter(self, batch: object, **_: object) -> object:
        """The batch has no ``rejected_by`` relationship: look the user up."""
        if not hasattr(batch, "rejected_by_id"):
            return batch
        return Shown(batch, rejected_by=rejecter(batch))


class LineSchema(ma.Schema):
    id = ma.fields.Integer()
    solver = ma.fields.Nested(PersonSchema, attribute="user")
    amount = ma.fields.Integer(metadata={"description": "minor units"})
    currency = ma.fields.String()
    status = ma.fields.String(validate=validate.OneOf([s.value for s in LineStatus]))
    provider = ma.fields.String(attribute="payout_account.provider")
    provider_transfer_id = ma.fields.String(allow_none=True)
    error = ma.fields.String()
    sent_at = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "when the current idempotency key was first sent"},
    )
    resolved_at = ma.fields.DateTime(allow_none=True)
    attempts = ma.fields.Integer(metadata={"description": "tries so far"})
    key_version = ma.fields.Integer(
        metadata={"description": "1: key payout-line-<id>; n > 1: payout-line-<id>-v<n>"}
    )
    next_try_at = ma.fields.DateTime(
        allow_none=True,
        metadata={"description": "the next automatic try of an open line; null on a sending "
                  "line: it waits for a finance user to release it"},
    )  # fmt: skip
    waiting_for_finance = ma.fields.Boolean()
    released_by = ma.fields.Nested(PersonSchema, allow_none=True)
    released_at = ma.fields.DateTime(allow_none=True)
    release_reason = ma.fields.String()

    @ma.pre_dump
    def _with_waiting(self, line: object, **_: object) -> object:
        if not hasattr(line, "next_try_at"):
            return line
        waiting = line.status == LineStatus.SENDING and line.next_try_at is None
        return Shown(line, waiting_for_finance=waiting)


class LinePageSchema(KeysetPageSchema):
    items = ma.fields.List(ma.fields.Nested(LineSchema))


class BatchDetailSchema(BatchSchema):
    lines = ma.fields.List(
        ma.fields.Nested(LineSchema),
        metadata={"description": "the first page of the batch's lines, in id order"},
    )
    lines_next_cursor = ma.fields.String(
        allow_none=True,
        metadata={"description": "the `cursor` of the next page of "
                  "/payout-batches/{batch_id}/lines; null when every line is shown"},
    )  # fmt: skip
    progress = ma.fields.Nested(ProgressSchema)
