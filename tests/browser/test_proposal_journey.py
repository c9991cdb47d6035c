"""A proposal's journey in a real Chromium, through the pages: a two-person team submits a
proposal with a 60/40 split, a reviewer scores it, the manager awards first prize, and both
co-creators see their earnings.

The need itself (funded, open) and the five accounts are made on the server first: the need's
own journey is tests/browser/test_need_journey.py.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Browser, Page, expect

from ledger import utcnow
from marketplace.accounts.models import OrgRole
from marketplace.challenges import services as needs
from marketplace.extensions import db
from marketplace.payments.services import start_funding
from tests.browser.conftest import LiveServer, watched_context
from tests.conftest import PASSWORD
from tests.factories import MembershipFactory, UserFactory, make_need, make_terms
from tests.second_factors import code_now

pytestmark = pytest.mark.browser


@pytest.fixture
def people(live_server: LiveServer) -> SimpleNamespace:
    """Acme's manager and reviewer, two solvers, and an open need funded in the sandbox."""
    tag = uuid.uuid4().hex[:8]
    app = live_server.app
    with app.app_context(), app.test_request_context():
        manager = MembershipFactory(
            role=OrgRole.MANAGER,
            organization__slug=f"acme-{tag}",
            organization__name="Acme",
            user__email=f"mia-{tag}@acme.example",
            user__name="Mia Manager",
            user__second_factor=True,
        ).user
        organization = manager.memberships[0].organization
        reviewer = MembershipFactory(
            role=OrgRole.REVIEWER,
            organization=organization,
            user__email=f"rex-{tag}@acme.example",
            user__name="Rex Reviewer",
        ).user
        lead = UserFactory(email=f"lea-{tag}@example.com", name="Lea Lead")
        partner = UserFactory(
            email=f"pat-{tag}@example.com", name="Pat Partner", email_verified_at=utcnow()
        )
        title = f"Compostable capsule liner {tag}"
        challenge = needs.create_challenge(
            manager, organization, make_need(title=title), make_terms()
        )
        start_funding(manager, challenge)
        needs.open_challenge(manager, challenge)
        found = SimpleNamespace(
            manager=manager.email, reviewer=reviewer.email, lead=lead.email,
            partner=partner.email, challenge_id=challenge.id, title=title,
        )  # fmt: skip
        db.session.remove()
    return found


@pytest.fixture
def browsers(browser: Browser, live_server: LiveServer) -> Iterator[dict[str, Page]]:
    """One browser context (its own cookies) per person."""
    with contextlib.ExitStack() as stack:
        yield {
            who: stack.enter_context(watched_context(browser, live_server.url)).new_page()
            for who in ("lead", "partner", "reviewer", "manager")
        }


def flash(page: Page):  # noqa: ANN201
    return page.get_by_role("status")


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Sign in").click()
    if page.url.endswith("/login/second-factor"):  # users enrolled by tests.second_factors
        page.get_by_label("Code").fill(code_now())
        page.locator("main").get_by_role("button", name="Sign in").click()
    expect(page.locator("[data-test=account-link]")).to_be_visible()


def accept_terms(page: Page, challenge_id: int) -> None:
    page.goto(f"/challenges/{challenge_id}")
    page.locator("[data-test=accept]").click()
    expect(flash(page)).to_contain_text("You accepted terms version 1")


def test_a_team_submits_a_reviewer_scores_and_the_manager_awards_first_prize(
    browsers: dict[str, Page], people: SimpleNamespace, artifacts: Path
) -> None:
    lead, partner, reviewer, manager = (
        browsers[w] for w in ("lead", "partner", "reviewer", "manager")
    )
    for page, email in ((lead, people.lead), (partner, people.partner)):
        sign_in(page, email)
        accept_terms(page, people.challenge_id)

    # The lead writes the proposal and invites the partner.
    lead.locator("[data-test=write-proposal]").click()
    lead.get_by_label("Title").fill("Cellulose nanofibre liner")
    lead.get_by_label("Non-confidential summary").fill("A liner made from wood pulp.")
    lead.get_by_label("Description").fill("Cellulose nanofibres with a **chitosan** coating.")
    lead.locator("[data-test=save-proposal]").click()
    expect(lead.locator("[data-test=status]")).to_have_text("Draft")
    proposal_url = lead.url
    invite = lead.locator("[data-test=invite-form]")
    invite.get_by_label("Invite a co-creator").fill(people.partner)
    invite.get_by_role("button", name="Invite").click()
    expect(lead.locator(f"[data-test=member][data-email='{people.partner}']")).to_have_count(1)

    # The partner finds the invitation among the notifications and joins.
    partner.goto("/notifications")
    partner.get_by_role("link", name="Cellulose nanofibre liner").first.click()
    partner.get_by_role("button", name="Join").click()
    expect(partner.locator("[data-test=status]")).to_have_text("Draft")

    # The lead sets the split to 60/40; the partner sees it and confirms it.
    lead.goto(proposal_url)
    lead.get_by_label(f"Share of {people.lead} in %").fill("60")
    lead.get_by_label(f"Share of {people.partner} in %").fill("40")
    lead.locator("[data-test=save-split]").click()
    partner.goto(proposal_url)
    row = partner.locator(f"[data-test=member][data-email='{people.partner}']")
    expect(row.locator("[data-test=share]")).to_have_text("40.00 %")
    expect(row.locator("[data-test=confirmation]")).to_have_text("not confirmed")
    partner.locator("[data-test=confirm-split]").click()
    expect(partner.locator("[data-test=you-confirmed]")).to_be_visible()

    # The lead submits.
    lead.goto(proposal_url)
    expect(lead.locator("[data-test=ready]")).to_be_visible()
    lead.locator("[data-test=submit]").click()
    expect(lead.locator("[data-test=status]")).to_have_text("Submitted")
    lead.screenshot(path=str(artifacts / "proposal-journey-submitted.png"), full_page=True)

    # The manager assigns the reviewer, who scores 8 and 5 (weights 60/40: 6.80).
    sign_in(manager, people.manager)
    manager.goto(proposal_url)
    manager.locator("[data-test=reviewer-select]").select_option(
        label=f"Rex Reviewer ({people.reviewer})"
    )
    manager.locator("[data-test=assign]").click()
    sign_in(reviewer, people.reviewer)
    reviewer.goto(proposal_url)
    form = reviewer.locator("#review")
    for index, (score, comment) in enumerate([("8", "A pilot line exists."), ("5", "Niche.")]):
        form.locator(f"[name=score-{index}]").fill(score)
        form.locator(f"[name=comment-{index}]").fill(comment)
    form.locator("[data-test=submit-review]").click()
    expect(reviewer.locator("[data-test=mean]")).to_have_text("6.80")

    # The manager awards first prize with feedback.
    manager.goto(proposal_url)
    expect(manager.locator("[data-test=mean]")).to_have_text("6.80")
    manager.locator("[data-test=prize-rank]").select_option("1")
    award_form = manager.locator("form").filter(has=manager.locator("[data-test=award]"))
    award_form.get_by_label("Feedback for the team (required)").fill("The best barrier data.")
    manager.locator("[data-test=award]").click()
    expect(manager.locator("[data-test=status]")).to_have_text("Awarded")
    expect(manager.locator("[data-test=award]").first).to_contain_text("10,000.00 USD")
    manager.screenshot(path=str(artifacts / "proposal-journey-awarded.png"), full_page=True)

    # Both co-creators see the decision and their earnings.
    for page, owed in ((lead, "6,000.00 USD"), (partner, "4,000.00 USD")):
        page.goto(proposal_url)
        expect(page.locator("[data-test=feedback]")).to_contain_text("The best barrier data.")
        page.goto("/me/proposals")
        expect(page.locator("[data-test=owed]")).to_have_text(owed)
        expect(page.locator("[data-test=my-part]")).to_have_text(owed)
    partner.screenshot(path=str(artifacts / "proposal-journey-earnings.png"), full_page=True)
