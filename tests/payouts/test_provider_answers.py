"""How the Stripe provider reads Stripe's answers to a payout, through the real SDK against the
local fake: only a definite refusal is a ProviderError; a 5xx, a timeout or a dropped
connection is ProviderUnavailable (the transfer may exist); a 429 is RateLimited with its
Retry-After. ``find_payout`` tells whether the transfer exists. No database is needed."""

from __future__ import annotations

import pytest

from marketplace.payments.provider import (
    PayoutRequest,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from marketplace.payments.stripe_provider import StripeProvider, _line_id
from tests.payments.stripe_server import FakeStripe

TRANSFERS = "/v1/transfers"


def provider(server: FakeStripe) -> StripeProvider:
    return StripeProvider.from_config(
        {"STRIPE_SECRET_KEY": "sk_test_answers", "STRIPE_API_BASE": server.url,
         "STRIPE_TIMEOUT": 0.5}
    )  # fmt: skip


def payout(server: FakeStripe, line_id: int = 7, *, enabled: bool = True) -> PayoutRequest:
    account = server._create_account({"type": "express"})
    account["payouts_enabled"] = enabled
    return PayoutRequest(
        key=f"payout-line-{line_id}",
        amount=12_345,
        currency="USD",
        destination=account["id"],
        description="Co-create payout batch 1",
        metadata={"payout_line_id": str(line_id), "payout_batch_id": "1"},
        group=f"payout-line-{line_id}",
    )


def test_a_payout_is_made_in_its_transfer_group_and_found_there(stripe_server):
    request = payout(stripe_server)
    stripe = provider(stripe_server)
    assert stripe.find_payout(request) is None
    transfer_id = stripe.send_payout(request)
    made = stripe_server.transfers[transfer_id]
    assert (made["transfer_group"], made["amount"], made["currency"]) == (
        "payout-line-7", 12_345, "usd",
    )  # fmt: skip
    assert stripe.find_payout(request) == transfer_id
    assert stripe.send_payout(request) == transfer_id  # the same key: Stripe's saved answer
    assert len(stripe_server.transfers) == 1


@pytest.mark.parametrize(
    "fault, options, made",
    [
        ("saved_500", {}, 0),
        ("saved_500", {"create": True}, 1),  # Stripe failed after making the transfer
        ("timeout", {"times": 2, "delay": 3}, 1),  # the SDK's retry times out too
        ("drop", {"times": 2}, 1),
    ],
)
def test_no_answer_is_indeterminate_and_the_look_up_tells(stripe_server, fault, options, made):
    request = payout(stripe_server)
    stripe = provider(stripe_server)
    stripe_server.payout_fault(fault, keys=[request.key], **options)
    with pytest.raises(ProviderUnavailable) as raised:
        stripe.send_payout(request)
    assert not isinstance(raised.value, RateLimited)
    assert len(stripe_server.transfers) == made
    found = stripe.find_payout(request)
    assert found == (next(iter(stripe_server.transfers)) if made else None)


def test_a_saved_500_is_replayed_for_its_key(stripe_server):
    request = payout(stripe_server)
    stripe = provider(stripe_server)
    stripe_server.payout_fault("saved_500", keys=[request.key])
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            stripe.send_payout(request)
    sent = [r for r in stripe_server.requests if r.path == TRANSFERS and r.method == "POST"]
    assert [(r.status, r.replayed) for r in sent] == [(500, False)] + [(500, True)] * 3
    assert stripe_server.transfers == {}


def test_a_429_is_a_retry_after_its_retry_after(stripe_server):
    request = payout(stripe_server)
    stripe = provider(stripe_server)
    stripe_server.payout_fault("rate_limit", keys=[request.key], retry_after=7)
    with pytest.raises(RateLimited) as raised:
        stripe.send_payout(request)
    assert raised.value.retry_after == 7
    assert stripe_server.transfers == {}
    assert stripe.send_payout(request) in stripe_server.transfers


def test_a_dropped_answer_that_the_sdk_retries_is_one_transfer(stripe_server):
    request = payout(stripe_server)
    stripe_server.payout_fault("drop", keys=[request.key], times=1)
    transfer_id = provider(stripe_server).send_payout(request)
    assert list(stripe_server.transfers) == [transfer_id]


@pytest.mark.parametrize(
    "status, kind, code",
    [
        (402, "card_error", "card_declined"),
        (400, "invalid_request_error", "balance_insufficient"),
        (404, "invalid_request_error", "resource_missing"),
    ],
)
def test_a_definite_refusal_is_a_provider_error(stripe_server, status, kind, code):
    request = payout(stripe_server)
    stripe_server.fail(status, kind, "Refused.", code=code, path=TRANSFERS)
    with pytest.raises(ProviderError) as raised:
        provider(stripe_server).send_payout(request)
    assert not isinstance(raised.value, ProviderUnavailable)


def test_an_account_that_cannot_receive_transfers_is_a_refusal(stripe_server):
    request = payout(stripe_server, enabled=False)
    with pytest.raises(ProviderError) as raised:
        provider(stripe_server).send_payout(request)
    assert not isinstance(raised.value, ProviderUnavailable)
    assert "capabilities" in str(raised.value)


@pytest.mark.parametrize(
    "status, kind",
    [
        (400, "idempotency_error"),  # the key was used otherwise: ask, never void
        (401, "invalid_request_error"),  # our API key: nothing to do with the payout
        (409, "api_error"),  # a request with the same key is still running
        (503, "api_error"),
    ],
)
def test_answers_that_say_nothing_of_the_payout_are_indeterminate(stripe_server, status, kind):
    request = payout(stripe_server)
    stripe_server.fail(status, kind, "Not now.", code=None, path=TRANSFERS, times=2)
    with pytest.raises(ProviderUnavailable):
        provider(stripe_server).send_payout(request)


def test_a_payout_sent_without_a_transfer_group_is_found_by_its_metadata(stripe_server):
    ours, other = payout(stripe_server, 7), payout(stripe_server, 8)
    other = PayoutRequest(**{**other.__dict__, "destination": ours.destination})
    stripe = provider(stripe_server)
    stripe.send_payout(other)  # another line's payout to the same account
    legacy = stripe.client.v1.transfers.create(
        params={"amount": ours.amount, "currency": "usd", "destination": ours.destination,
                "metadata": ours.metadata},
        options={"idempotency_key": ours.key},
    )  # fmt: skip
    assert stripe.find_payout(ours) == legacy.id
    assert stripe.find_payout(payout(stripe_server, 9)) is None


def test_a_look_up_that_gets_no_answer_is_indeterminate(stripe_server):
    request = payout(stripe_server)
    stripe_server.payout_fault("rate_limit", times=1, retry_after=2)
    with pytest.raises(RateLimited):
        provider(stripe_server).find_payout(request)


@pytest.mark.parametrize(
    ("named", "line_id"),
    [("17", 17), ("²", None), ("0", None), ("9" * 19, None), ("-3", None), (None, None), (7, None)],
)
def test_only_a_plain_64_bit_line_id_in_metadata_names_a_line(named, line_id) -> None:
    assert _line_id(named) == line_id
