"""``account.updated`` arrives in any order: the state of the newest event (by its ``created``)
is kept, whatever order Stripe delivers them in."""

from __future__ import annotations

import itertools

import pytest

from marketplace.extensions import db
from marketplace.payouts.accounts import payout_account_of
from tests.challenges.conftest import user
from tests.payments.conftest import post_event
from tests.payouts.test_stripe_payouts import onboard_with_stripe


def states(stripe_server, external_id: str) -> dict[str, dict]:
    """Three snapshots of one account a minute apart: enabled, then restricted (Stripe wants
    more details), then enabled again."""
    enabled = stripe_server.enable_payouts(external_id)
    restricted = dict(enabled, payouts_enabled=False, details_submitted=True)
    events = {}
    for offset, (name, snapshot) in enumerate(
        [("enabled", enabled), ("restricted", restricted), ("enabled_again", enabled)]
    ):
        event = stripe_server.event("account.updated", snapshot)
        event["created"] = 1_900_000_000 + 60 * offset
        events[name] = event
    return events


def account_state(app, email: str) -> tuple[bool, int | None]:
    with app.app_context():
        account = payout_account_of(user(email))
        db.session.refresh(account)
        held = account.provider_state_at
        return account.payouts_enabled, int(held.timestamp()) if held else None


@pytest.mark.parametrize("newest", ["restricted", "enabled_again"])
def test_two_updates_delivered_in_reverse_order_end_with_the_newer(
    app, client, owed, stripe_app, stripe_server, newest
):
    onboard_with_stripe(app, client, stripe_server, owed.lead, enable=False)
    with app.app_context():
        external_id = payout_account_of(user(owed.lead)).external_id
    events = states(stripe_server, external_id)
    older = "restricted" if newest == "enabled_again" else "enabled"
    for name in (newest, older):  # newer first, then the stale one
        assert post_event(client, events[name]).json == {"received": True, "replayed": False}
    assert account_state(app, owed.lead) == (
        events[newest]["data"]["object"]["payouts_enabled"],
        events[newest]["created"],
    )


@pytest.mark.parametrize(
    "order", list(itertools.permutations(["enabled", "restricted", "enabled_again"])), ids="-".join
)
def test_any_order_of_three_updates_ends_with_the_newest(
    app, client, owed, stripe_app, stripe_server, order
):
    onboard_with_stripe(app, client, stripe_server, owed.lead, enable=False)
    with app.app_context():
        external_id = payout_account_of(user(owed.lead)).external_id
    events = states(stripe_server, external_id)
    for name in order:
        assert post_event(client, events[name]).status_code == 200
    assert account_state(app, owed.lead) == (True, events["enabled_again"]["created"])
