"""The HTML pages of proposals: writing one, the team and its split, submission, who may
read it, files, the private thread, the decision and the solver's home."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.judging.decisions import award_prize
from marketplace.notifications.models import Notification
from marketplace.proposals.models import Attachment, Proposal
from tests import sample_files
from tests.challenges.conftest import user
from tests.factories import UserFactory
from tests.proposals.conftest import PROPOSAL, build_team, draft_proposal, member_id

PDF = sample_files.pdf()
SECRET = "chitosan coating"  # in PROPOSAL["description"]


@pytest.fixture(autouse=True)
def uploads(app, tmp_path):
    previous = app.config["UPLOAD_FOLDER"]
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    yield tmp_path
    app.config["UPLOAD_FOLDER"] = previous


def _proposal(app, proposal_id: int) -> Proposal:
    return db.session.get(Proposal, proposal_id)


def _flashes(page: str) -> list[str]:
    return re.findall(r'<div class="flash flash-\w+" role="status">([^<]*)</div>', page)


def _row(page: str, email: str) -> str:
    match = re.search(rf'<tr data-test="member" data-email="{re.escape(email)}"[^>]*>', page)
    assert match, f"no team row for {email}"
    return match.group(0)


def _upload(client, proposal_id: int, name: str, data: bytes):
    return client.post(
        f"/proposals/{proposal_id}/attachments",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


# -- writing and editing ---------------------------------------------------------------------


def test_a_solver_writes_a_proposal_through_the_form(app, client, auth, people, need) -> None:
    auth.login(people.solver)
    page = client.get(f"/challenges/{need}").get_data(as_text=True)
    assert 'data-test="write-proposal"' in page
    assert client.get(f"/challenges/{need}/proposals/new").status_code == 200
    response = client.post(f"/challenges/{need}/proposals/new", data=PROPOSAL)
    assert response.status_code == 302
    with app.app_context():
        proposal = db.session.scalar(select(Proposal))
        assert (proposal.title, proposal.status, proposal.lead.email) == (
            PROPOSAL["title"], "draft", people.solver,
        )  # fmt: skip
        assert response.headers["Location"].endswith(f"/proposals/{proposal.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<strong>cellulose</strong>" in page  # Markdown rendered
    assert 'data-test="status">Draft' in page
    assert "terms version 1" in page
    # the need's page lists it for its author
    assert PROPOSAL["title"] in client.get(f"/challenges/{need}").get_data(as_text=True)
    assert PROPOSAL["title"] in client.get("/me/proposals").get_data(as_text=True)


def test_a_missing_title_is_a_field_error(app, client, auth, people, need) -> None:
    auth.login(people.solver)
    response = client.post(f"/challenges/{need}/proposals/new", data={**PROPOSAL, "title": " "})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Give a title" in page
    assert PROPOSAL["summary"] in page  # what was typed stays
    response = client.post(
        f"/challenges/{need}/proposals/new", data={**PROPOSAL, "title": "x" * 201}
    )
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(Proposal)) is None


def test_without_accepting_the_terms_the_form_is_refused(client, auth, people, need) -> None:
    auth.login(people.rival)  # sees the public need, never accepted its terms
    response = client.get(f"/challenges/{need}/proposals/new", follow_redirects=True)
    assert "Accept the need" in " ".join(_flashes(response.get_data(as_text=True)))
    response = client.post(f"/challenges/{need}/proposals/new", data=PROPOSAL)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/challenges/{need}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Accept the need" in " ".join(_flashes(page))
    assert 'data-test="write-proposal"' not in page


def test_a_member_edits_the_text(app, client, auth, people, need) -> None:
    proposal_id = draft_proposal(app, people.solver, need)
    auth.login(people.solver)
    page = client.get(f"/proposals/{proposal_id}/edit").get_data(as_text=True)
    assert PROPOSAL["summary"] in page
    response = client.post(
        f"/proposals/{proposal_id}/edit", data={**PROPOSAL, "approach": "Start *small*."}
    )
    assert response.status_code == 302
    assert "<em>small</em>" in client.get(f"/proposals/{proposal_id}").get_data(as_text=True)
    response = client.post(f"/proposals/{proposal_id}/edit", data={**PROPOSAL, "title": ""})
    assert response.status_code == 422


# -- team and split --------------------------------------------------------------------------


def test_the_team_page_shows_the_split_and_who_confirmed(
    app, client, auth, people, submitted
) -> None:
    auth.login(submitted.lead)
    page = client.get(f"/proposals/{submitted.proposal_id}").get_data(as_text=True)
    lead, partner = _row(page, submitted.lead), _row(page, submitted.partner)
    assert 'data-status="joined"' in lead and 'data-confirmed="yes"' in lead
    assert 'data-status="joined"' in partner and 'data-confirmed="yes"' in partner
    assert "60.00 %" in page and "40.00 %" in page
    with app.app_context():
        assert _proposal(app, submitted.proposal_id).split_confirmed


def test_invite_then_split_by_percentages_then_confirm(app, client, auth, people, need) -> None:
    proposal_id = draft_proposal(app, people.solver, need)
    auth.login(people.solver)
    response = client.post(
        f"/proposals/{proposal_id}/team/invite",
        data={"email": "partner@example.com", "share_percent": "abc"},
        follow_redirects=True,
    )
    assert "Enter a percentage" in " ".join(_flashes(response.get_data(as_text=True)))
    response = client.post(
        f"/proposals/{proposal_id}/team/invite",
        data={"email": "partner@example.com", "share_percent": ""},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    link = re.search(r"https?://[^ ]+/team-invitations/([\w-]+)", page)
    assert link, _flashes(page)
    assert 'data-status="invited"' in _row(page, "partner@example.com")
    token = link.group(1)

    auth.logout()
    auth.login("partner@example.com")
    page = client.get(f"/team-invitations/{token}").get_data(as_text=True)
    assert 'data-test="proposed-share">0.00 %' in page
    response = client.post(f"/team-invitations/{token}")
    assert response.headers["Location"].endswith(f"/proposals/{proposal_id}#team")
    assert client.post(f"/team-invitations/{token}").status_code == 410  # used
    auth.logout()

    auth.login(people.solver)
    lead_id = member_id(app, proposal_id, people.solver)
    partner_id = member_id(app, proposal_id, "partner@example.com")
    response = client.post(
        f"/proposals/{proposal_id}/team/split",
        data={f"share-{lead_id}": "60", f"share-{partner_id}": "30"},
        follow_redirects=True,
    )
    assert "add up to 90.00 %, not 100 %" in " ".join(_flashes(response.get_data(as_text=True)))
    response = client.post(
        f"/proposals/{proposal_id}/team/split",
        data={f"share-{lead_id}": "60", f"share-{partner_id}": "4O"},
        follow_redirects=True,
    )
    assert "Enter a percentage" in " ".join(_flashes(response.get_data(as_text=True)))
    response = client.post(
        f"/proposals/{proposal_id}/team/split",
        data={f"share-{lead_id}": "60", f"share-{partner_id}": "40"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "Split saved" in " ".join(_flashes(page))
    assert 'data-confirmed="no"' in _row(page, "partner@example.com")
    assert 'data-confirmed="yes"' in _row(page, people.solver)
    assert 'data-test="submit" disabled' in page  # waiting for the partner
    with app.app_context():
        proposal = _proposal(app, proposal_id)
        assert {m.email: m.share_bp for m in proposal.members} == {
            people.solver: 6000, "partner@example.com": 4000,
        }  # fmt: skip
        version = proposal.split_version
    auth.logout()

    auth.login("partner@example.com")
    stale = client.post(
        f"/proposals/{proposal_id}/team/confirm", data={"version": str(version - 1)},
        follow_redirects=True,
    )  # fmt: skip
    assert "changed since you looked" in " ".join(_flashes(stale.get_data(as_text=True)))
    page = client.get(f"/proposals/{proposal_id}").get_data(as_text=True)
    assert f'name="version" value="{version}"' in page
    response = client.post(
        f"/proposals/{proposal_id}/team/confirm", data={"version": str(version)},
        follow_redirects=True,
    )  # fmt: skip
    page = response.get_data(as_text=True)
    assert "You confirmed this split" in " ".join(_flashes(page))
    assert 'data-confirmed="yes"' in _row(page, "partner@example.com")
    auth.logout()

    auth.login(people.solver)
    page = client.get(f"/proposals/{proposal_id}").get_data(as_text=True)
    assert 'data-test="ready"' in page
    response = client.post(f"/proposals/{proposal_id}/submit", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Submitted" in " ".join(_flashes(page))
    assert 'data-test="status">Submitted' in page
    with app.app_context():
        assert _proposal(app, proposal_id).status == "submitted"


def test_submit_with_problems_is_a_flash_message(app, client, auth, people, need) -> None:
    proposal_id = draft_proposal(app, people.solver, need, description="")
    auth.login(people.solver)
    page = client.get(f"/proposals/{proposal_id}").get_data(as_text=True)
    assert "Fill this in before submitting." in page
    response = client.post(f"/proposals/{proposal_id}/submit", follow_redirects=True)
    assert "Fill this in before submitting." in " ".join(_flashes(response.get_data(as_text=True)))
    with app.app_context():
        assert _proposal(app, proposal_id).status == "draft"


def test_members_leave_and_the_lead_removes(app, client, auth, people, need) -> None:
    proposal_id = draft_proposal(app, people.solver, need)
    build_team(app, proposal_id, people.solver, "partner@example.com")
    partner_id = member_id(app, proposal_id, "partner@example.com")
    lead_id = member_id(app, proposal_id, people.solver)
    auth.login("partner@example.com")
    response = client.post(
        f"/proposals/{proposal_id}/team/remove", data={"member_id": str(lead_id)}
    )
    assert response.status_code == 302
    response = client.post(
        f"/proposals/{proposal_id}/team/remove", data={"member_id": str(partner_id)}
    )
    assert response.headers["Location"].endswith("/me/proposals")
    assert client.get(f"/proposals/{proposal_id}").status_code == 404  # no longer on the team
    with app.app_context():
        proposal = _proposal(app, proposal_id)
        assert [m.email for m in proposal.members] == [people.solver]
        assert proposal.members[0].share_bp == 10_000
    auth.logout()
    auth.login(people.solver)
    for bad in ("", "x", "99999999999999999999999"):
        response = client.post(f"/proposals/{proposal_id}/team/remove", data={"member_id": bad})
        assert response.status_code in (302, 404)


def test_a_wrong_account_cannot_use_a_team_invitation(app, client, auth, people, need) -> None:
    proposal_id = draft_proposal(app, people.solver, need)
    with app.app_context():
        from marketplace.proposals import team

        _, token = team.invite_member(user(people.solver), proposal_id, "partner@example.com")
    auth.login(people.other_solver)
    response = client.get(f"/team-invitations/{token}")
    assert response.status_code == 410
    assert "sign in with that address" in response.get_data(as_text=True)
    assert client.post(f"/team-invitations/{token}").status_code == 410
    assert client.get("/team-invitations/not-a-token").status_code == 410
    auth.logout()
    response = client.get(f"/team-invitations/{token}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    auth.login("partner@example.com")
    page = client.get("/me/proposals").get_data(as_text=True)
    assert 'data-test="invitation"' in page
    assert "open the link in your invitation email or notification" in page


# -- who may read it -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("lead", 200),
        ("partner", 200),
        ("owner", 200),
        ("manager", 200),
        ("reviewer", 200),
        ("finance", 404),
        ("other_solver", 404),
        ("rival", 404),
    ],
)
def test_only_the_team_and_the_seekers_judges_read_a_proposal(
    client, auth, people, submitted, who, status
) -> None:
    email = getattr(submitted, who, None) or getattr(people, who)
    auth.login(email)
    response = client.get(f"/proposals/{submitted.proposal_id}")
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert (SECRET in page) == (status == 200)
    for path in ("/edit", "/attachments/1"):
        assert client.get(f"/proposals/{submitted.proposal_id}{path}").status_code in (
            (200, 403, 404) if status == 200 else (404,)
        )


def test_anonymous_visitors_are_sent_to_sign_in(client, submitted) -> None:
    for path in (f"/proposals/{submitted.proposal_id}", "/proposals/999999", "/me/proposals"):
        response = client.get(path)
        assert response.status_code == 302  # the same for a proposal that does not exist
        assert "/login" in response.headers["Location"]


def test_the_seeker_reads_and_writes_but_does_not_manage_the_team(
    client, auth, people, submitted
) -> None:
    auth.login(people.manager)
    page = client.get(f"/proposals/{submitted.proposal_id}").get_data(as_text=True)
    assert 'data-test="confirm-split"' not in page and 'data-test="upload-form"' not in page
    assert 'data-test="message-form"' in page
    assert client.get(f"/proposals/{submitted.proposal_id}/edit").status_code == 403


def test_an_admin_sees_only_the_metadata(app, client, auth, submitted) -> None:
    with app.app_context():
        UserFactory(email="admin@platform.example", is_admin=True)
    auth.login("admin@platform.example")
    response = client.get(f"/proposals/{submitted.proposal_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-test="metadata-only"' in page
    assert PROPOSAL["summary"] in page
    assert 'data-test="team-size">2' in page
    assert SECRET not in page and PROPOSAL["approach"] not in page
    assert 'data-test="message' not in page
    assert client.get(f"/proposals/{submitted.proposal_id}/edit").status_code == 404
    response = client.post(f"/proposals/{submitted.proposal_id}/messages", data={"body": "hi"})
    assert response.status_code == 404


# -- files -----------------------------------------------------------------------------------


def test_files_upload_and_download_for_readers_only(
    app, client, auth, people, submitted, uploads
) -> None:
    auth.login(submitted.partner)
    page = _upload(client, submitted.proposal_id, "plan.pdf", PDF).get_data(as_text=True)
    assert "File added." in _flashes(page)
    with app.app_context():
        attachment = db.session.scalar(select(Attachment))
        attachment_id = attachment.id
    assert f"/proposals/{submitted.proposal_id}/attachments/{attachment_id}" in page
    assert list(uploads.joinpath("proposals").iterdir())  # stored under the test's folder
    url = f"/proposals/{submitted.proposal_id}/attachments/{attachment_id}"
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "plan.pdf" in response.headers["Content-Disposition"]
    auth.logout()

    auth.login(people.manager)
    assert client.get(url).status_code == 200
    auth.logout()
    for outsider in (people.other_solver, people.rival):
        auth.login(outsider)
        assert client.get(url).status_code == 404
        assert client.post(f"{url}/remove").status_code == 404
        auth.logout()

    # a guessed attachment id under another proposal the guesser may read
    other = draft_proposal(app, people.other_solver, submitted.challenge_id)
    auth.login(people.other_solver)
    assert client.get(f"/proposals/{other}/attachments/{attachment_id}").status_code == 404
    assert client.post(f"/proposals/{other}/attachments/{attachment_id}/remove").status_code == 404
    auth.logout()

    auth.login(submitted.lead)
    page = client.post(f"{url}/remove", follow_redirects=True).get_data(as_text=True)
    assert "File removed." in _flashes(page)
    assert client.get(url).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(Attachment)) is None


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("tool.exe", b"MZ\x90\x00", "not accepted"),
        ("fake.pdf", b"<html><script>alert(1)</script>", "content is not a .pdf"),
        ("../../etc/passwd.pdf", PDF, "plain file name"),
        ("..\\x.pdf", PDF, "plain file name"),
        ("empty.pdf", b"", "empty"),
    ],
)
def test_bad_uploads_are_refused(app, client, auth, submitted, uploads, name, data, message):
    auth.login(submitted.lead)
    response = _upload(client, submitted.proposal_id, name, data)
    assert response.status_code == 200
    assert message in " ".join(_flashes(response.get_data(as_text=True)))
    with app.app_context():
        assert db.session.scalar(select(Attachment)) is None
    folder = uploads / "proposals"
    assert not folder.exists() or not list(folder.iterdir())


def test_too_large_uploads_and_missing_files_are_refused(app, client, auth, submitted) -> None:
    auth.login(submitted.lead)
    previous = app.config["ATTACHMENT_MAX_BYTES"]
    app.config["ATTACHMENT_MAX_BYTES"] = 64
    try:
        response = _upload(client, submitted.proposal_id, "big.pdf", PDF + b"x" * 100)
    finally:
        app.config["ATTACHMENT_MAX_BYTES"] = previous
    assert "larger than" in " ".join(_flashes(response.get_data(as_text=True)))
    response = client.post(f"/proposals/{submitted.proposal_id}/attachments", data={},
                           follow_redirects=True)  # fmt: skip
    assert "Choose a file." in _flashes(response.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(Attachment)) is None


# -- the private thread ----------------------------------------------------------------------


def test_messages_reach_the_other_side(app, client, auth, people, submitted) -> None:
    auth.login(submitted.partner)
    response = client.post(
        f"/proposals/{submitted.proposal_id}/messages",
        data={"body": "Can we send a sample?"},
        follow_redirects=True,
    )
    assert "Message sent." in _flashes(response.get_data(as_text=True))
    auth.logout()
    auth.login(people.manager)
    page = client.get(f"/proposals/{submitted.proposal_id}").get_data(as_text=True)
    assert "Can we send a sample?" in page
    client.post(
        f"/proposals/{submitted.proposal_id}/messages", data={"body": "Yes, <b>please</b>."}
    )
    response = client.post(f"/proposals/{submitted.proposal_id}/messages", data={"body": " "},
                           follow_redirects=True)  # fmt: skip
    assert "Write 1 to" in " ".join(_flashes(response.get_data(as_text=True)))
    auth.logout()
    auth.login(submitted.lead)
    page = client.get(f"/proposals/{submitted.proposal_id}").get_data(as_text=True)
    assert "Can we send a sample?" in page
    assert "Yes, &lt;b&gt;please&lt;/b&gt;." in page  # escaped, not HTML
    assert page.count('data-test="message"') == 2
    with app.app_context():
        notes = db.session.scalars(
            select(Notification).where(Notification.kind == "proposal_message")
        ).all()
        by_user = {(n.user_id, n.body) for n in notes}
        assert (user(people.manager).id, "Can we send a sample?") in by_user
        assert (user(submitted.lead).id, "Yes, <b>please</b>.") in by_user
        assert (user(submitted.partner).id, "Yes, <b>please</b>.") in by_user
        assert all(n.user_id != user(submitted.partner).id or n.body != "Can we send a sample?"
                   for n in notes)  # fmt: skip


def test_drafts_have_no_thread_yet(app, client, auth, people, need) -> None:
    proposal_id = draft_proposal(app, people.solver, need)
    auth.login(people.solver)
    response = client.post(f"/proposals/{proposal_id}/messages", data={"body": "hello"},
                           follow_redirects=True)  # fmt: skip
    assert "opens when the proposal is submitted" in " ".join(
        _flashes(response.get_data(as_text=True))
    )


# -- decisions and the solver's home ---------------------------------------------------------


def test_the_award_shows_on_the_proposal_and_the_solvers_home(
    app, client, auth, people, submitted
) -> None:
    auth.login(submitted.lead)
    page = client.get("/me/proposals").get_data(as_text=True)
    assert PROPOSAL["title"] in page
    assert 'data-test="owed-none"' in page
    with app.app_context():
        award_prize(user(people.manager), submitted.proposal_id, 1, "A **clear** winner.")
    page = client.get("/me/proposals").get_data(as_text=True)
    assert re.search(r'data-test="owed" data-currency="USD">6,000.00 USD<', page)
    assert 'data-test="my-part">6,000.00 USD' in page
    assert "<strong>clear</strong>" in page
    page = client.get(f"/proposals/{submitted.proposal_id}").get_data(as_text=True)
    assert 'data-test="status">Awarded' in page
    assert 'data-test="award">Prize 1: <strong>10,000.00 USD</strong>' in page
    assert "6,000.00 USD" in page and "4,000.00 USD" in page
    assert "Non-exclusive licence to the seeker" in page and "pending transfer" in page
    assert 'data-test="save-split"' not in page and 'data-test="confirm-split"' not in page
    auth.logout()
    auth.login(submitted.partner)
    page = client.get("/me/proposals").get_data(as_text=True)
    assert re.search(r'data-test="owed" data-currency="USD">4,000.00 USD<', page)


def test_withdraw_through_the_page(app, client, auth, people, submitted) -> None:
    auth.login(submitted.partner)
    response = client.post(f"/proposals/{submitted.proposal_id}/withdraw", follow_redirects=True)
    assert "Only the team lead" in " ".join(_flashes(response.get_data(as_text=True)))
    auth.logout()
    auth.login(submitted.lead)
    response = client.post(f"/proposals/{submitted.proposal_id}/withdraw", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "withdrawn" in " ".join(_flashes(page))
    assert 'data-test="status">Withdrawn' in page
    auth.logout()
    auth.login(people.manager)
    assert client.get(f"/proposals/{submitted.proposal_id}").status_code == 404


def test_the_needs_page_links_to_proposals(client, auth, people, submitted) -> None:
    auth.login(people.reviewer)
    page = client.get(f"/challenges/{submitted.challenge_id}").get_data(as_text=True)
    assert f'href="/challenges/{submitted.challenge_id}/judging"' in page
    auth.logout()
    auth.login(submitted.partner)
    page = client.get(f"/challenges/{submitted.challenge_id}").get_data(as_text=True)
    assert f'href="/proposals/{submitted.proposal_id}"' in page
    assert 'data-test="write-proposal"' in page
    assert 'data-test="my-proposals-link"' in page
