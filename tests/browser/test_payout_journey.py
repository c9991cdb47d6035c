"""Payouts in a real Chromium, through the pages: a solver sets up payouts, finance user A
prepares a batch, finance user B approves it, the job pays (sandbox, inline), the solver sees
"paid", and the finance dashboard's charts render (screenshots kept in test-artifacts/).

The award that makes the solver owed money is made on the server first: the proposal's own
journey is tests/browser/test_proposal_journey.py.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, Page, expect

from marketplace.accounts.models import OrgRole
from marketplace.challenges import services as needs
from marketplace.extensions import db
from marketplace.judging import decisions
from marketplace.payments.services import start_funding
from marketplace.proposals import services as proposals
from tests.browser.conftest import LiveServer, watched_context
from tests.browser.test_proposal_journey import flash, sign_in
from tests.factories import MembershipFactory, UserFactory, make_need, make_terms
from tests.proposals.conftest import PROPOSAL
from tests.second_factors import code_now

pytestmark = pytest.mark.browser


@pytest.fixture
def owed(live_server: LiveServer) -> SimpleNamespace:
    """A solver awarded first prize (10,000.00 USD) by Acme, and two platform finance users."""
    tag = uuid.uuid4().hex[:8]
    app = live_server.app
    with app.app_context(), app.test_request_context():
        manager = MembershipFactory(
            role=OrgRole.MANAGER,
            organization__slug=f"pay-{tag}",
            user__email=f"m-{tag}@acme.example",
            user__second_factor=True,
        ).user
        challenge = needs.create_challenge(
            manager, manager.memberships[0].organization, make_need(), make_terms()
        )
        start_funding(manager, challenge)
        needs.open_challenge(manager, challenge)
        solver = UserFactory(email=f"sol-{tag}@example.com", name="Sol Solver")
        needs.accept_terms(solver, challenge.id)
        proposal = proposals.create_proposal(solver, challenge.id, PROPOSAL)
        proposals.submit_proposal(solver, proposal.id)
        decisions.award_prize(manager, proposal.id, 1, "The best liner we saw.")
        found = SimpleNamespace(
            solver=solver.email,
            preparer=UserFactory(email=f"ann-{tag}@platform.example", name="Ann Finance",
                                 is_platform_finance=True, second_factor=True).email,
            approver=UserFactory(email=f"ben-{tag}@platform.example", name="Ben Finance",
                                 is_platform_finance=True, second_factor=True).email,
        )  # fmt: skip
        db.session.remove()
    return found


@pytest.fixture
def browsers(browser: Browser, live_server: LiveServer) -> Iterator[dict[str, Page]]:
    with contextlib.ExitStack() as stack:
        yield {
            who: stack.enter_context(watched_context(browser, live_server.url)).new_page()
            for who in ("solver", "preparer", "approver")
        }


def test_finance_a_prepares_b_approves_the_job_pays_and_the_solver_sees_paid(
    browsers: dict[str, Page], owed: SimpleNamespace, artifacts: Path
) -> None:
    solver, preparer, approver = (browsers[w] for w in ("solver", "preparer", "approver"))

    # The solver is owed the prize and sets up payouts (the sandbox onboards at once).
    sign_in(solver, owed.solver)
    solver.goto("/me/earnings")
    expect(solver.locator("[data-test=owed]")).to_have_text("10,000.00 USD")
    solver.locator("[data-test=onboard]").click()
    expect(flash(solver)).to_have_text("Your payout account can receive payouts.")
    solver.goto("/me/earnings")
    expect(solver.locator("[data-test=payout-status]")).to_contain_text("Ready")

    # Finance user A previews and prepares a batch: the amount is reserved, not yet paid.
    sign_in(preparer, owed.preparer)
    preparer.goto("/finance/payouts")
    preparer.get_by_label("Currency", exact=True).fill("USD")
    preparer.get_by_label("Minimum owed").fill("1.00")
    preparer.locator("[data-test=preview]").click()
    expect(preparer.locator("[data-test=preview-result]")).to_contain_text("10,000.00 USD")
    preparer.locator("[data-test=prepare]").click()
    expect(preparer.locator("[data-test=status]")).to_have_text("prepared")
    expect(preparer.locator("[data-test=waiting]")).to_be_visible()
    expect(preparer.locator("[data-test=approve]")).to_have_count(0)
    batch_url = preparer.url
    solver.goto("/me/earnings")
    expect(solver.locator("[data-test=pending]")).to_have_text("10,000.00 USD")
    preparer.screenshot(path=str(artifacts / "payout-journey-prepared.png"), full_page=True)

    # Finance user B approves; the job sends the payout (inline here) and the batch completes.
    sign_in(approver, owed.approver)
    approver.goto(batch_url)
    expect(approver.locator("[data-test=waiting-other]")).to_contain_text("Ann Finance")
    # Step-up: a code of the next 30 s, later than the one that signed B in a moment ago.
    approver.locator("[data-test=approve-code]").fill(code_now(steps_ahead=1))
    approver.locator("[data-test=approve]").click()
    approver.goto(batch_url)
    expect(approver.locator("[data-test=status]")).to_have_text("completed")
    expect(approver.locator("[data-test=approved]")).to_contain_text("Ben Finance")
    expect(approver.locator("[data-test=lines] tbody tr")).to_contain_text(["paid"])
    approver.screenshot(path=str(artifacts / "payout-journey-paid.png"), full_page=True)

    # The solver sees the money as paid, nothing owed or pending.
    solver.goto("/me/earnings")
    expect(solver.locator("[data-test=paid]")).to_have_text("10,000.00 USD")
    expect(solver.locator("[data-test=owed]")).to_have_text("0.00 USD")
    expect(solver.locator("[data-test=pending]")).to_have_text("0.00 USD")
    expect(solver.locator("[data-test=line-payout]").first).to_contain_text("paid")
    solver.screenshot(path=str(artifacts / "payout-journey-solver-paid.png"), full_page=True)

    # The finance dashboard draws its charts, the payouts chart with this month's payout.
    approver.goto("/finance/")
    for name in ("escrow", "payouts", "value-shared"):
        expect(approver.locator(f"[data-test=chart-{name}] svg").first).to_be_visible()
    expect(approver.locator("[data-test=chart-payouts] svg").first).to_contain_text("10,000")
    approver.screenshot(path=str(artifacts / "finance-dashboard-charts.png"), full_page=True)
