"""Public clarifications and progress updates: every participant hears the same answer."""

from __future__ import annotations

from sqlalchemy import select

from ledger import utcnow
from marketplace.accounts.models import User
from marketplace.challenges.access import EDITORS, get_visible, is_staff, require
from marketplace.challenges.models import Challenge, Status
from marketplace.challenges.services import notify_participants
from marketplace.db import command
from marketplace.dialogue.models import Clarification, ProgressUpdate
from marketplace.errors import Conflict, Invalid, NotFound
from marketplace.extensions import db
from marketplace.notifications.services import notify
from marketplace.text_rules import require_one_line

LIVE = (Status.OPEN, Status.JUDGING)


def _text(value: str, field: str, maximum: int) -> str:
    value = (value or "").strip()
    if not value or len(value) > maximum:
        raise Invalid(
            "Please correct the highlighted fields.", {field: [f"Write 1 to {maximum} characters."]}
        )
    return value


def _one_line(title: str) -> str:
    require_one_line("title", title)
    return title


@command
def ask(user: User, challenge_id: int, question: str) -> Clarification:
    """A solver asks in public; the seeker's staff are told."""
    challenge = get_visible(user, challenge_id)
    if challenge.status != Status.OPEN:
        raise Conflict("Questions can be asked while the need is open.")
    if is_staff(user, challenge):
        raise Conflict("Staff of the seeking organization answer questions; post an update.")
    clarification = Clarification(
        challenge_id=challenge.id, asked_by_id=user.id, question=_text(question, "question", 4000)
    )
    db.session.add(clarification)
    db.session.flush()
    staff = [m.user_id for m in challenge.organization.memberships if m.role in EDITORS]
    notify(
        staff,
        kind="question_asked",
        title=f"New question on “{challenge.title}”",
        body=clarification.question,
        link=f"/challenges/{challenge.id}#clarifications",
    )
    return clarification


@command
def answer(user: User, clarification_id: int, text: str) -> Clarification:
    """The seeker answers; question and answer are published to every participant."""
    clarification = db.session.get(Clarification, clarification_id)
    if clarification is None:
        raise NotFound("No such question.")
    challenge = get_visible(user, clarification.challenge_id)
    require(user, challenge, EDITORS, "answer questions")
    if clarification.answer is not None:
        raise Conflict("This question is answered already.")
    clarification.answer = _text(text, "answer", 8000)
    clarification.answered_by_id = user.id
    clarification.answered_at = utcnow()
    notify_participants(
        challenge,
        kind="clarification",
        title=f"Clarification on “{challenge.title}”",
        body=f"Q: {clarification.question}\nA: {clarification.answer}",
        link=f"/challenges/{challenge.id}#clarifications",
    )
    return clarification


@command
def post_update(user: User, challenge_id: int, title: str, body: str) -> ProgressUpdate:
    challenge = get_visible(user, challenge_id)
    require(user, challenge, EDITORS, "post updates")
    if challenge.status not in LIVE:
        raise Conflict("Updates are posted while the need is open or being judged.")
    update = ProgressUpdate(
        challenge_id=challenge.id,
        author_id=user.id,
        title=_one_line(_text(title, "title", 200)),
        body=_text(body, "body", 10000),
    )
    db.session.add(update)
    db.session.flush()
    notify_participants(
        challenge,
        kind="update",
        title=f"Update on “{challenge.title}”: {update.title}",
        body=update.body,
        link=f"/challenges/{challenge.id}#updates",
    )
    return update


def clarifications_for(user: User | None, challenge: Challenge) -> list[Clarification]:
    """Answered questions for everyone; staff also see the unanswered ones, askers their own."""
    statement = select(Clarification).where(Clarification.challenge_id == challenge.id)
    if not is_staff(user, challenge):
        own = (
            Clarification.asked_by_id == user.id
            if getattr(user, "is_authenticated", False)
            else False
        )
        statement = statement.where((Clarification.answer.is_not(None)) | own)
    return list(db.session.scalars(statement.order_by(Clarification.id)))


def updates_of(challenge: Challenge) -> list[ProgressUpdate]:
    return list(
        db.session.scalars(
            select(ProgressUpdate)
            .where(ProgressUpdate.challenge_id == challenge.id)
            .order_by(ProgressUpdate.id.desc())
        )
    )
