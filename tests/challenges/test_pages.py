"""The HTML pages of needs: writing one through the form, what each viewer is shown,
search, Markdown safety, clarifications and updates, the portal."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from marketplace.challenges.models import Challenge
from marketplace.dialogue.models import Clarification
from marketplace.extensions import db
from marketplace.notifications.models import Notification
from marketplace.payments.models import Payment
from tests import sample_files
from tests.challenges.conftest import create, fund_and_open, user

FORM = {
    "organization": "acme",
    "title": "Self-healing concrete for bridge decks",
    "summary": "Cracks let water in; we want concrete that seals cracks under 0.5 mm itself.",
    "background": "Our decks are **C40/50**.",
    "looking_for": "Seals 0.5 mm cracks\nNo loss of strength",
    "maturity": "proof_of_concept",
    "category": "Materials",
    "tags": "Concrete, bacteria",
    "confidential_details": "Budget for pilots: 2M.",
    "visibility": "public",
    "currency": "EUR",
    "prizes": "25,000.00, 5,000.50",
    "value_share_percent": "2.5",
    "value_share_months": "36",
    "platform_fee_percent": "10",
    "ip_terms": "non_exclusive_licence",
    "excluded_countries": "kp, IR",
    "exclude_org_members": "on",
    "criteria": "Performance: 70\nCost: 30",
    "max_team_size": "3",
    "deadline": "2099-06-30T17:00",
}


def test_a_manager_writes_a_need_through_the_form(app, client, auth, people) -> None:
    auth.login(people.manager)
    response = client.post("/challenges/new", data=FORM)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        challenge = db.session.scalar(select(Challenge))
        terms = challenge.current_terms.terms
        assert (challenge.status, challenge.currency, challenge.prize_total) == (
            "draft",
            "EUR",
            3_000_050,
        )
        assert terms.prizes == (2_500_000, 500_050)
        assert (terms.value_share_bp, terms.platform_fee_bp) == (250, 1_000)
        assert terms.excluded_countries == ("IR", "KP")
        assert challenge.tags == ["bacteria", "concrete"]
        assert challenge.deadline.isoformat() == "2099-06-30T17:00:00+00:00"  # manager's zone: UTC
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<strong>C40/50</strong>" in page
    assert "30,000.50 EUR" in page and "Sandbox" in page


@pytest.mark.parametrize(
    ("change", "field_message"),
    [
        ({"prizes": "12.345"}, "Not a valid integer"),
        ({"criteria": "Performance: 70\nCost: 20"}, "add up to 100"),
        ({"title": ""}, "Length must be between 1 and 200."),
        ({"deadline": "soon"}, "Not a valid datetime"),
        ({"ip_terms": "all yours"}, "Must be one of"),
    ],
)
def test_bad_input_shows_field_errors_and_saves_nothing(
    app, client, auth, people, change, field_message
) -> None:
    auth.login(people.manager)
    response = client.post("/challenges/new", data={**FORM, **change})
    assert response.status_code == 422
    assert field_message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Challenge)) is None


@pytest.mark.parametrize("role", ["reviewer", "finance", "solver"])
def test_people_who_may_not_write_are_turned_away(app, client, auth, people, role) -> None:
    auth.login(getattr(people, role))
    response = client.post("/challenges/new", data=FORM)
    assert response.status_code in (302, 403)
    with app.app_context():
        assert db.session.scalar(select(Challenge)) is None


def test_markdown_cannot_smuggle_script(app, client, auth, people) -> None:
    challenge_id = create(
        app,
        people,
        background="<script>alert(1)</script>[x](javascript:alert(1)) "
        '<img src=x onerror="alert(1)">',
    )
    auth.login(people.manager)
    page = client.get(f"/challenges/{challenge_id}").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    assert "<img src=x" not in page


def test_confidential_details_only_after_accepting(app, client, auth, people, opened) -> None:
    auth.login(people.solver)
    before = client.get(f"/challenges/{opened}").get_data(as_text=True)
    assert "Target cost" not in before and "Shown once you accept the terms" in before
    assert client.post(f"/challenges/{opened}/accept").status_code == 302
    after = client.get(f"/challenges/{opened}").get_data(as_text=True)
    assert "Target cost: 0.4 cents per capsule." in after
    assert "You accepted these terms (version 1)" in after
    auth.logout()
    assert "Target cost" not in client.get(f"/challenges/{opened}").get_data(as_text=True)


def test_the_terms_hash_is_shown(app, client, people, opened) -> None:
    with app.app_context():
        sha = db.session.get(Challenge, opened).current_terms.sha256
    assert sha in client.get(f"/challenges/{opened}").get_data(as_text=True)


def test_amending_through_the_form_shows_worsened_fields(app, client, auth, people, opened) -> None:
    auth.login(people.manager)
    form = client.get(f"/challenges/{opened}/terms/amend")
    assert form.status_code == 200
    with app.app_context():
        from marketplace.challenges.forms import terms_values

        values = terms_values(db.session.get(Challenge, opened).current_terms.terms, "UTC")
    worse = client.post(
        f"/challenges/{opened}/terms/amend", data={**values, "prizes": "9,000.00, 5,000.00"}
    )
    assert worse.status_code == 422
    assert "Prize 1 would be lower than promised." in worse.get_data(as_text=True)
    better = client.post(
        f"/challenges/{opened}/terms/amend",
        data={**values, "max_team_size": "8", "change_note": "Bigger teams welcome"},
    )
    assert better.headers["Location"] == f"/challenges/{opened}/terms/2"
    diff = client.get(better.headers["Location"]).get_data(as_text=True)
    assert "max team size" in diff and "Bigger teams welcome" in diff


def test_search_finds_matches_and_says_when_nothing_does(app, client, people, opened) -> None:
    other = create(
        app,
        people,
        title="Low-sodium cheese",
        summary="Less salt, same taste.",
        background="Dairy.",
        tags=["dairy"],
        category="Food",
    )
    fund_and_open(app, people, other)
    hits = client.get("/challenges", query_string={"q": "compostable liner"}).get_data(as_text=True)
    assert "Biodegradable coffee capsule liner" in hits and "Low-sodium cheese" not in hits
    food = client.get("/challenges", query_string={"category": "food"}).get_data(as_text=True)
    assert "Low-sodium cheese" in food and "capsule" not in food
    punctuation = client.get("/challenges", query_string={"q": "!!!", "sort": "relevance"})
    assert punctuation.status_code == 200
    nothing = client.get("/challenges", query_string={"q": "quantum teleporter"})
    assert 'data-test="no-results"' in nothing.get_data(as_text=True)
    rich = client.get("/challenges", query_string={"min_reward": 2_000_000}).get_data(as_text=True)
    assert 'data-test="no-results"' in rich
    bad = client.get("/challenges", query_string={"sort": "chaos", "min_reward": "lots"})
    assert bad.status_code == 422


def test_public_questions_and_answers_reach_every_participant(
    app, client, auth, people, opened
) -> None:
    with app.app_context():
        from marketplace.challenges import services

        services.accept_terms(user(people.other_solver), opened)
    auth.login(people.solver)
    client.post(f"/challenges/{opened}/clarifications", data={"question": "Is PLA acceptable?"})
    with app.app_context():
        question = db.session.scalar(select(Clarification))
        staff_notes = db.session.scalars(
            select(Notification).where(Notification.kind == "question_asked")
        ).all()
        assert {n.user_id for n in staff_notes} == {user(people.owner).id, user(people.manager).id}
    auth.login(people.other_solver)
    assert "Is PLA acceptable?" not in client.get(f"/challenges/{opened}").get_data(as_text=True)
    assert (
        client.post(f"/clarifications/{question.id}/answer", data={"answer": "No"}).status_code
        == 403
    )
    with app.app_context():
        assert db.session.get(Clarification, question.id).answer is None  # solvers cannot answer
    auth.login(people.manager)
    client.post(
        f"/clarifications/{question.id}/answer", data={"answer": "Yes, if home-compostable."}
    )
    auth.login(people.other_solver)
    page = client.get(f"/challenges/{opened}").get_data(as_text=True)
    assert "Is PLA acceptable?" in page and "Yes, if home-compostable." in page
    with app.app_context():
        told = db.session.scalars(
            select(Notification.user_id).where(Notification.kind == "clarification")
        ).all()
        assert set(told) == {user(people.solver).id, user(people.other_solver).id}
    inbox = client.get("/notifications").get_data(as_text=True)
    assert "Clarification on" in inbox


def test_progress_updates_reach_participants(app, client, auth, people, opened) -> None:
    with app.app_context():
        from marketplace.challenges import services

        services.accept_terms(user(people.solver), opened)
    auth.login(people.solver)
    client.post(f"/challenges/{opened}/updates", data={"title": "Sneaky", "body": "not staff"})
    auth.login(people.manager)
    client.post(
        f"/challenges/{opened}/updates", data={"title": "Judging panel", "body": "Named soon."}
    )
    with app.app_context():
        notes = db.session.scalars(select(Notification).where(Notification.kind == "update")).all()
        assert [n.user_id for n in notes] == [user(people.solver).id]
        assert "Sneaky" not in notes[0].title
    assert "Judging panel" in client.get(f"/challenges/{opened}").get_data(as_text=True)


PNG = sample_files.image()


def test_the_owner_brands_the_portal(app, client, auth, people, opened, tmp_path) -> None:
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    auth.login(people.owner)
    saved = client.post(
        "/o/acme/settings",
        data={
            "tagline": "Better packaging",
            "about": "We **care**.",
            "primary_color": "#aa0000",
            "accent_color": "#111111",
            "email_domains": "acme-labs.example",
            "logo": (io.BytesIO(PNG), "logo.png"),
        },
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302
    portal = client.get("/o/acme").get_data(as_text=True)
    assert "Better packaging" in portal and "<strong>care</strong>" in portal
    assert "--brand: #aa0000" in portal and "Biodegradable coffee capsule liner" in portal
    logo = client.get("/o/acme/logo")
    assert logo.mimetype == "image/png" and logo.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert "--brand: #aa0000" in client.get(f"/challenges/{opened}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"primary_color": "red"}, "Use a colour"),
        ({"email_domains": "gmail.com"}, "owns"),
        ({"logo": b"<svg onload=alert(1)>"}, "PNG, JPEG or WebP"),
    ],
)
def test_bad_portal_settings_are_refused(
    app, client, auth, people, tmp_path, change, message
) -> None:
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    auth.login(people.owner)
    if "logo" in change:
        change = {"logo": (io.BytesIO(change["logo"]), "x.png")}
    data = {
        "tagline": "",
        "about": "",
        "primary_color": "#aa0000",
        "accent_color": "#111111",
        "email_domains": "",
        **change,
    }
    response = client.post("/o/acme/settings", data=data, content_type="multipart/form-data")
    assert response.status_code == 422 and message in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["manager", "reviewer", "finance", "solver"])
def test_only_owners_change_the_portal(client, auth, people, role) -> None:
    auth.login(getattr(people, role))
    assert client.get("/o/acme/settings").status_code == 403
    assert client.post("/o/acme/settings", data={"tagline": "hijacked"}).status_code == 403


@pytest.mark.parametrize("role", ["reviewer", "finance"])
def test_only_editors_get_the_edit_and_amend_forms(client, auth, people, draft, role) -> None:
    auth.login(getattr(people, role))
    assert client.get(f"/challenges/{draft}/edit").status_code == 403
    assert client.get(f"/challenges/{draft}/terms/amend").status_code == 403
    assert client.post(f"/challenges/{draft}/edit", data={"title": "x"}).status_code == 403
    auth.login(people.manager)
    assert client.get(f"/challenges/{draft}/edit").status_code == 200


def test_a_payment_page_is_for_the_needs_funders_only(app, client, auth, people, opened) -> None:
    with app.app_context():
        payment_id = db.session.scalar(select(Payment.id))
    for who, status in ((people.finance, 200), (people.reviewer, 404), (people.rival, 404)):
        auth.login(who)
        assert client.get(f"/payments/{payment_id}/done").status_code == status
