"""The proposals' JSON API: writing one, the team and its split, who may read it, files,
the private thread and the solver's list, as API answers show them."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from marketplace.extensions import db
from marketplace.proposals.models import Proposal
from tests import sample_files
from tests.challenges.conftest import user
from tests.factories import UserFactory, make_token
from tests.proposals.conftest import PROPOSAL, build_team, draft_proposal, member_id

API = "/api/v1"
PARTNER = "partner@example.com"
PDF = sample_files.pdf()


def auth(app: Flask, email: str) -> dict[str, str]:
    """An ``Authorization: Bearer`` header for a new token of ``email``."""
    with app.app_context():
        return {"Authorization": f"Bearer {make_token(user(email))[1]}"}


def user_id(app: Flask, email: str) -> int:
    with app.app_context():
        return user(email).id


@pytest.fixture(autouse=True)
def uploads(app, tmp_path):
    previous = app.config["UPLOAD_FOLDER"]
    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    yield tmp_path
    app.config["UPLOAD_FOLDER"] = previous


def upload(client: FlaskClient, headers: dict, proposal_id: int, name: str, data: bytes):
    return client.post(
        f"{API}/proposals/{proposal_id}/attachments",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=headers,
    )


# -- writing, the team and the split -------------------------------------------------------


def test_a_team_forms_splits_60_40_and_submits_through_the_api(app, client, people, need):
    lead, partner = auth(app, people.solver), auth(app, PARTNER)
    created = client.post(f"{API}/challenges/{need}/proposals", json=PROPOSAL, headers=lead)
    assert created.status_code == 201, created.get_json()
    proposal = created.get_json()
    assert (proposal["status"], proposal["full"], proposal["side"]) == ("draft", True, "team")
    assert proposal["description"] == PROPOSAL["description"]
    pid = proposal["id"]

    invited = client.post(f"{API}/proposals/{pid}/team", json={"email": PARTNER}, headers=lead)
    assert invited.status_code == 201, invited.get_json()
    token = invited.get_json()["join_token"]
    assert invited.get_json()["status"] == "invited"
    assert invited.get_json()["join_link"].endswith(f"/team-invitations/{token}")

    # The token is shown once, to the lead who invited: never in the team's answer.
    team = client.get(f"{API}/proposals/{pid}/team", headers=lead)
    assert token not in team.get_data(as_text=True)
    assert "join_token" not in team.get_data(as_text=True)
    # Not submittable while the partner has not joined.
    early = client.post(f"{API}/proposals/{pid}/submit", headers=lead)
    assert early.status_code == 422 and "team" in early.get_json()["errors"]

    joined = client.post(f"{API}/team-invitations/accept", json={"token": token}, headers=partner)
    assert joined.status_code == 200, joined.get_json()
    assert (joined.get_json()["id"], joined.get_json()["side"]) == (pid, "team")
    used = client.post(f"{API}/team-invitations/accept", json={"token": token}, headers=partner)
    assert used.status_code == 422

    lead_member, partner_member = member_id(app, pid, people.solver), member_id(app, pid, PARTNER)
    shares = [
        {"member_id": lead_member, "share_bp": 6000},
        {"member_id": partner_member, "share_bp": 4000},
    ]
    split = client.put(f"{API}/proposals/{pid}/team/split", json={"shares": shares}, headers=lead)
    assert split.status_code == 200, split.get_json()
    body = split.get_json()
    assert body["split_confirmed"] is False and body["locked"] is False
    members = {m["email"]: m for m in body["members"]}
    assert members[people.solver] | {"id": 0} == {
        "id": 0,
        "email": people.solver,
        "name": members[people.solver]["name"],
        "is_lead": True,
        "status": "joined",
        "share_bp": 6000,
        "confirmed": True,
    }
    assert (members[PARTNER]["share_bp"], members[PARTNER]["confirmed"]) == (4000, False)

    stale = client.post(
        f"{API}/proposals/{pid}/team/confirm",
        json={"version": body["split_version"] - 1},
        headers=partner,
    )
    assert stale.status_code == 409
    confirmed = client.post(
        f"{API}/proposals/{pid}/team/confirm",
        json={"version": body["split_version"]},
        headers=partner,
    )
    assert confirmed.status_code == 200 and confirmed.get_json()["split_confirmed"] is True

    edited = client.patch(
        f"{API}/proposals/{pid}", json={"approach": "Pilot now."}, headers=partner
    )
    assert edited.status_code == 200 and edited.get_json()["approach"] == "Pilot now."
    assert edited.get_json()["title"] == PROPOSAL["title"]  # unchanged: not sent

    sent = client.post(f"{API}/proposals/{pid}/submit", headers=lead)
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json()["status"] == "submitted" and sent.get_json()["terms_version"] == 1


def test_only_the_lead_submits_invites_and_splits(app, client, people, need):
    pid = draft_proposal(app, people.solver, need)
    build_team(app, pid, people.solver, PARTNER)
    partner = auth(app, PARTNER)
    assert client.post(f"{API}/proposals/{pid}/submit", headers=partner).status_code == 403
    invite = client.post(
        f"{API}/proposals/{pid}/team", json={"email": "x@example.com"}, headers=partner
    )
    assert invite.status_code == 403
    assert client.post(f"{API}/proposals/{pid}/withdraw", headers=partner).status_code == 403


@pytest.mark.parametrize(
    "shares, message",
    [
        ((6000, 3000), "add up to 90.00 %"),
        ((6000, 6000), "add up to 120.00 %"),
    ],
)
def test_a_split_that_does_not_sum_to_10000_is_a_422_field_error(
    app, client, people, need, shares, message
):
    pid = draft_proposal(app, people.solver, need)
    build_team(app, pid, people.solver, PARTNER)
    ids = member_id(app, pid, people.solver), member_id(app, pid, PARTNER)
    body = {"shares": [{"member_id": i, "share_bp": s} for i, s in zip(ids, shares, strict=True)]}
    response = client.put(
        f"{API}/proposals/{pid}/team/split", json=body, headers=auth(app, people.solver)
    )
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["status"] == 422 and message in problem["errors"]["shares"][0]


@pytest.mark.parametrize(
    "share",
    [{"share_bp": 60.5}, {"share_bp": "6000"}, {"share_bp": 0}, {"share_bp": 10_001}, {}],
)
def test_a_share_is_an_integer_of_basis_points(app, client, people, need, share):
    pid = draft_proposal(app, people.solver, need)
    body = {"shares": [{"member_id": member_id(app, pid, people.solver), **share}]}
    response = client.put(
        f"{API}/proposals/{pid}/team/split", json=body, headers=auth(app, people.solver)
    )
    assert response.status_code == 422
    assert "shares" in response.get_json()["errors"]


def test_the_same_member_twice_in_a_split_is_refused(app, client, people, need):
    pid = draft_proposal(app, people.solver, need)
    lead = member_id(app, pid, people.solver)
    body = {"shares": [{"member_id": lead, "share_bp": 5000}] * 2}
    response = client.put(
        f"{API}/proposals/{pid}/team/split", json=body, headers=auth(app, people.solver)
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["shares"] == ["Give each member one share."]


def test_members_leave_or_are_removed_and_the_lead_takes_the_share(app, client, people, need):
    pid = draft_proposal(app, people.solver, need)
    build_team(app, pid, people.solver, PARTNER)
    lead, partner = auth(app, people.solver), auth(app, PARTNER)
    partner_member = member_id(app, pid, PARTNER)
    lead_member = member_id(app, pid, people.solver)
    refused = client.delete(f"{API}/proposals/{pid}/team/{lead_member}", headers=partner)
    assert refused.status_code == 403
    lead_leaves = client.delete(f"{API}/proposals/{pid}/team/{lead_member}", headers=lead)
    assert lead_leaves.status_code == 409
    left = client.delete(f"{API}/proposals/{pid}/team/{partner_member}", headers=partner)
    assert left.status_code == 200, left.get_json()
    (only,) = left.get_json()["members"]
    assert (only["email"], only["share_bp"]) == (people.solver, 10_000)
    assert client.get(f"{API}/proposals/{pid}", headers=partner).status_code == 404
    gone = client.delete(f"{API}/proposals/{pid}/team/{partner_member}", headers=lead)
    assert gone.status_code == 404


def test_a_solver_lists_their_own_proposals_and_the_seeker_the_submitted_ones(
    app, client, people, submitted
):
    draft = draft_proposal(app, people.other_solver, submitted.challenge_id, title="Mine")
    url = f"{API}/challenges/{submitted.challenge_id}/proposals"
    mine = client.get(url, headers=auth(app, people.other_solver))
    assert [p["id"] for p in mine.get_json()["items"]] == [draft]
    team = client.get(url, headers=auth(app, PARTNER))
    assert [p["id"] for p in team.get_json()["items"]] == [submitted.proposal_id]
    seeker = client.get(url, headers=auth(app, people.reviewer)).get_json()
    assert [p["id"] for p in seeker["items"]] == [submitted.proposal_id]  # not the draft
    assert seeker["next_cursor"] is None
    assert seeker["items"][0]["team_size"] == 2
    assert "description" not in seeker["items"][0]
    assert client.get(url, headers=auth(app, people.finance)).status_code == 403
    assert client.get(url).status_code == 401


def test_a_proposal_needs_accepted_terms_and_a_title(app, client, people, need):
    with app.app_context():
        UserFactory(email="late@example.com")
    late = client.post(
        f"{API}/challenges/{need}/proposals", json=PROPOSAL, headers=auth(app, "late@example.com")
    )
    assert late.status_code == 409
    blank = client.post(
        f"{API}/challenges/{need}/proposals",
        json={**PROPOSAL, "title": "   "},
        headers=auth(app, people.solver),
    )
    assert blank.status_code == 422 and "title" in blank.get_json()["errors"]
    missing = client.post(
        f"{API}/challenges/{need}/proposals", json={}, headers=auth(app, people.solver)
    )
    assert missing.status_code == 422 and "title" in missing.get_json()["errors"]


def test_writes_need_a_bearer_token(app, client, people, need):
    response = client.post(f"{API}/challenges/{need}/proposals", json=PROPOSAL)
    assert response.status_code == 401


# -- who may read it -------------------------------------------------------------------------

READERS_IN_FULL = ["solver", "partner", "owner", "manager", "reviewer"]
OUTSIDERS = ["finance", "other_solver", "rival", "anonymous"]


@pytest.mark.parametrize(
    "who, status", [(w, 200) for w in READERS_IN_FULL] + [(w, 404) for w in OUTSIDERS]
)
def test_a_submitted_proposal_is_confidential(app, client, people, submitted, who, status):
    emails = {**vars(people), "partner": PARTNER}
    headers = {} if who == "anonymous" else auth(app, emails[who])
    response = client.get(f"{API}/proposals/{submitted.proposal_id}", headers=headers)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    if status == 200:
        assert body["full"] is True and body["description"] == PROPOSAL["description"]
        assert body["side"] == ("team" if who in ("solver", "partner") else "seeker")
    else:
        assert PROPOSAL["description"] not in response.get_data(as_text=True)
        assert PROPOSAL["title"] not in response.get_data(as_text=True)
    if who != "anonymous":
        for part in ("team", "attachments", "messages"):
            answer = client.get(f"{API}/proposals/{submitted.proposal_id}/{part}", headers=headers)
            assert answer.status_code == status, (part, answer.get_json())


def test_a_platform_admin_gets_the_metadata_only(app, client, submitted):
    with app.app_context():
        UserFactory(email="admin@platform.example", is_admin=True)
    headers = auth(app, "admin@platform.example")
    response = client.get(f"{API}/proposals/{submitted.proposal_id}", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["full"], body["side"], body["title"]) == (False, "admin", PROPOSAL["title"])
    assert body["summary"] == PROPOSAL["summary"]
    for name in ("description", "approach", "attachments", "lead_name", "split_version"):
        assert name not in body
    assert PROPOSAL["description"] not in response.get_data(as_text=True)
    team = client.get(f"{API}/proposals/{submitted.proposal_id}/team", headers=headers)
    assert team.status_code == 404


def test_a_draft_is_the_teams_alone(app, client, people, need):
    pid = draft_proposal(app, people.solver, need)
    for email in (people.manager, people.owner):
        answer = client.get(f"{API}/proposals/{pid}", headers=auth(app, email))
        assert answer.status_code == 404


# -- files -----------------------------------------------------------------------------------


def test_files_are_uploaded_listed_downloaded_and_removed(app, client, people, submitted):
    lead = auth(app, people.solver)
    pid = submitted.proposal_id
    added = upload(client, lead, pid, "plan.pdf", PDF)
    assert added.status_code == 201, added.get_json()
    attachment = added.get_json()
    assert (attachment["filename"], attachment["size"]) == ("plan.pdf", len(PDF))
    assert attachment["content_type"] == "application/pdf"

    listed = client.get(f"{API}/proposals/{pid}/attachments", headers=auth(app, people.reviewer))
    assert [a["id"] for a in listed.get_json()] == [attachment["id"]]
    url = f"{API}/proposals/{pid}/attachments/{attachment['id']}"
    download = client.get(url, headers=auth(app, people.manager))
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert client.get(url, headers=auth(app, people.other_solver)).status_code == 404

    assert client.delete(url, headers=auth(app, people.manager)).status_code == 403
    removed = client.delete(url, headers=lead)
    assert removed.status_code == 204
    assert client.get(url, headers=lead).status_code == 404


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("plan.exe", b"MZ", "not accepted"),
        ("plan.pdf", b"<html>", "not a .pdf file"),
        ("../plan.pdf", PDF, "plain file name"),
        ("notes.txt", b"", "empty"),
    ],
)
def test_an_unacceptable_file_is_a_422_field_error(
    app, client, people, submitted, name, data, message
):
    response = upload(client, auth(app, people.solver), submitted.proposal_id, name, data)
    assert response.status_code == 422
    assert message in response.get_json()["errors"]["file"][0]


def test_an_upload_retried_under_its_idempotency_key_is_stored_once(
    app, client, people, submitted
):
    """Each try of a multipart upload has its own boundary: the key compares the fields and
    the files, not the bytes."""
    lead = {**auth(app, people.solver), "Idempotency-Key": "upload-plan-1"}
    pid = submitted.proposal_id
    first = upload(client, lead, pid, "plan.pdf", PDF)
    again = upload(client, lead, pid, "plan.pdf", PDF)
    assert first.status_code == again.status_code == 201, first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    listed = client.get(f"{API}/proposals/{pid}/attachments", headers=lead).get_json()
    assert [a["id"] for a in listed] == [first.get_json()["id"]]
    other_file = upload(client, lead, pid, "plan.pdf", PDF + b"\n")
    assert other_file.status_code == 422 and "Idempotency-Key" in other_file.get_json()["errors"]


def test_an_upload_without_a_file_is_a_422(app, client, people, submitted):
    response = client.post(
        f"{API}/proposals/{submitted.proposal_id}/attachments",
        data={"other": "x"},
        content_type="multipart/form-data",
        headers=auth(app, people.solver),
    )
    assert response.status_code == 422 and "file" in response.get_json()["errors"]


# -- the private thread ----------------------------------------------------------------------


def test_the_team_and_the_seeker_talk_in_private(app, client, people, submitted):
    pid = submitted.proposal_id
    url = f"{API}/proposals/{pid}/messages"
    asked = client.post(url, json={"body": "Which pulp grade?"}, headers=auth(app, people.manager))
    assert asked.status_code == 201, asked.get_json()
    assert asked.get_json()["side"] == "seeker"
    answered = client.post(url, json={"body": "Birch kraft."}, headers=auth(app, PARTNER))
    assert answered.get_json()["side"] == "team"
    thread = client.get(url, headers=auth(app, people.solver)).get_json()
    assert [(m["side"], m["body"]) for m in thread] == [
        ("seeker", "Which pulp grade?"),
        ("team", "Birch kraft."),
    ]
    empty = client.post(url, json={"body": ""}, headers=auth(app, people.solver))
    assert empty.status_code == 422 and "body" in empty.get_json()["errors"]
    outsider = client.post(url, json={"body": "Hi"}, headers=auth(app, people.other_solver))
    assert outsider.status_code == 404


def test_withdrawing_ends_the_seekers_view(app, client, people, submitted):
    pid = submitted.proposal_id
    response = client.post(f"{API}/proposals/{pid}/withdraw", headers=auth(app, people.solver))
    assert response.status_code == 200 and response.get_json()["status"] == "withdrawn"
    assert (
        client.get(f"{API}/proposals/{pid}", headers=auth(app, people.manager)).status_code == 404
    )
    again = client.post(f"{API}/proposals/{pid}/withdraw", headers=auth(app, people.solver))
    assert again.status_code == 409


def test_the_solver_home_shows_invitations_and_splits_to_confirm(app, client, people, need):
    pid = draft_proposal(app, people.solver, need)
    lead = auth(app, people.solver)
    invited = client.post(
        f"{API}/proposals/{pid}/team", json={"email": PARTNER, "share_bp": 4000}, headers=lead
    )
    assert invited.status_code == 201
    home = client.get(f"{API}/me/proposals", headers=auth(app, PARTNER)).get_json()
    (invitation,) = home["invitations"]
    assert (invitation["proposal_id"], invitation["share_bp"]) == (pid, 4000)
    assert "join_token" not in invitation and home["proposals"] == []
    client.post(
        f"{API}/team-invitations/accept",
        json={"token": invited.get_json()["join_token"]},
        headers=auth(app, PARTNER),
    )
    with app.app_context():
        version = db.session.get(Proposal, pid).split_version
    home = client.get(f"{API}/me/proposals", headers=auth(app, PARTNER)).get_json()
    assert home["invitations"] == []
    assert [p["id"] for p in home["proposals"]] == [pid]
    assert home["to_confirm"] == [
        {"proposal_id": pid, "title": PROPOSAL["title"], "split_version": version}
    ]
    assert client.get(f"{API}/me/proposals").status_code == 401
