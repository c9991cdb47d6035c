"""The rules of a need's life: drafting, terms versions, opening, deadlines, cancelling,
accepting terms and invitations. Each public command takes the acting user, checks who may
do it, and runs in one transaction (its caller's, or its own): all of it, or nothing."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ledger import as_utc, utcnow
from marketplace.accounts.models import Organization, User
from marketplace.accounts.services import normalise_email, require_role
from marketplace.audit.log import record
from marketplace.challenges.access import EDITORS, STAFF, get_visible, is_staff, require
from marketplace.challenges.models import (
    Challenge,
    Guest,
    Invitation,
    Status,
    TermsAcceptance,
    TermsVersion,
    Visibility,
)
from marketplace.challenges.terms import Terms, terms_diff, worsened_fields
from marketplace.db import command
from marketplace.errors import Conflict, Invalid
from marketplace.extensions import db
from marketplace.notifications.services import notify

INVITATION_DAYS = 14
NEED_FIELDS = (
    "title", "summary", "background", "looking_for", "nice_to_have", "not_looking_for",
    "possible_approaches", "maturity", "deliverables", "category", "tags",
    "confidential_details", "visibility",
)  # fmt: skip


def _invalid(field: str, message: str) -> Invalid:
    return Invalid("Please correct the highlighted fields.", {field: [message]})


def _check_deadline(terms: Terms) -> None:
    if as_utc(terms.deadline) <= utcnow() + timedelta(hours=1):
        raise _invalid("deadline", "The deadline must be at least an hour from now.")


def _apply_need(challenge: Challenge, need: dict[str, Any]) -> None:
    tags = sorted({t.strip().lower() for t in need.get("tags", challenge.tags) or [] if t.strip()})
    if len(" ".join(tags)) > Challenge.tags_text.type.length:  # 20 tags of 40 would not fit
        raise _invalid("tags", "Use fewer or shorter tags (600 characters in all).")
    for name in NEED_FIELDS:
        if name in need:
            setattr(challenge, name, need[name])
    challenge.tags = tags
    challenge.tags_text = " ".join(tags)


def _add_version(actor: User, challenge: Challenge, terms: Terms, note: str) -> TermsVersion:
    challenge.terms_version += 1
    version = TermsVersion(
        challenge=challenge,
        version=challenge.terms_version,
        content=terms.to_json(),
        sha256=terms.sha256(),
        change_note=note,
        created_by_id=actor.id,
    )
    db.session.add(version)
    challenge.currency = terms.currency
    challenge.prize_total = terms.prize_total
    challenge.deadline = as_utc(terms.deadline)
    return version


@command
def create_challenge(
    actor: User, organization: Organization, need: dict[str, Any], terms: Terms
) -> Challenge:
    """A new draft need with its first terms version. Owners and managers only."""
    require_role(actor, organization, *EDITORS)
    _check_deadline(terms)
    challenge = Challenge(
        organization=organization, created_by=actor, status=Status.DRAFT, terms_version=0
    )
    _apply_need(challenge, need)
    db.session.add(challenge)
    _add_version(actor, challenge, terms, "First version")
    db.session.flush()  # a caller in the same transaction gets its id
    record("need.create", obj=challenge, actor=actor)
    return challenge


@command
def update_need(actor: User, challenge: Challenge, need: dict[str, Any]) -> Challenge:
    """Edit the need statement. Only while it is a draft: published text is a promise too."""
    require(actor, challenge, EDITORS, "edit this need")
    if challenge.status != Status.DRAFT:
        raise Conflict(
            "A published need cannot be rewritten; post a clarification or an update instead."
        )
    _apply_need(challenge, need)
    record("need.edit", obj=challenge, actor=actor, details={"fields": sorted(need)})
    return challenge


@dataclass(frozen=True)
class Amendment:
    version: TermsVersion
    diff: list[tuple[str, object, object]]


@command
def amend_terms(actor: User, challenge: Challenge, terms: Terms, note: str = "") -> Amendment:
    """Publish a new terms version.

    A draft may change anything. Once open, the new version must be at least as good for every
    solver (each worsened field is named), and any extra prize money must already be in escrow.
    """
    from marketplace.payments.services import escrow_available

    require(actor, challenge, EDITORS, "change the terms")
    if challenge.status not in (Status.DRAFT, Status.OPEN):
        raise Conflict(f"The terms of a {challenge.status} need cannot change.")
    old = challenge.current_terms.terms
    if terms == old:
        raise _invalid("terms", "These terms are the same as the current version.")
    if challenge.status == Status.OPEN:
        worse = worsened_fields(old, terms)
        if worse:
            raise Invalid(
                "An amendment after opening may only favour solvers.",
                {name: [message] for name, message in worse.items()},
            )
        shortfall = terms.escrow_required - escrow_available(challenge)
        if shortfall > 0:
            raise Invalid(
                "Fund the difference before publishing this amendment.",
                {"prizes": [f"Escrow is {shortfall} minor units short of the new prizes."]},
            )
    else:
        _check_deadline(terms)
        if terms.currency != old.currency and escrow_available(challenge) > 0:
            raise _invalid(
                "currency", "The escrow already holds money in the first currency; keep it."
            )
    version = _add_version(actor, challenge, terms, note or "Amended")
    record("need.amend", obj=challenge, actor=actor, details={"version": version.version})
    if challenge.status == Status.OPEN:
        notify_participants(
            challenge,
            kind="terms_amended",
            title=f"The terms of “{challenge.title}” were amended (version {version.version})",
            body=note,
            link=f"/challenges/{challenge.id}/terms/{version.version}",
        )
    return Amendment(version, terms_diff(old, terms))


@command
def open_challenge(actor: User, challenge: Challenge) -> Challenge:
    """Publish a draft. Money promised is money held: escrow must cover prizes and fee."""
    from marketplace.payments.services import escrow_available

    require(actor, challenge, EDITORS, "open this need")
    if challenge.status != Status.DRAFT:
        raise Conflict(f"Only a draft can be opened; this need is {challenge.status}.")
    terms = challenge.current_terms.terms
    _check_deadline(terms)
    shortfall = terms.escrow_required - escrow_available(challenge)
    if shortfall > 0:
        raise Conflict(
            f"Fund the prize pool first: escrow is {shortfall} minor units of "
            f"{terms.currency} short of prizes plus fee."
        )
    challenge.status = Status.OPEN
    challenge.opened_at = utcnow()
    record("need.publish", obj=challenge, actor=actor)
    return challenge


@command
def advance_deadlines(now: datetime | None = None) -> int:
    """Move every open need whose deadline has passed to judging; returns how many."""
    now = now or utcnow()
    result = db.session.execute(
        update(Challenge)
        .where(Challenge.status == Status.OPEN, Challenge.deadline <= now)
        .values(status=Status.JUDGING)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


@command
def cancel_challenge(actor: User, challenge: Challenge) -> Challenge:
    """Cancel a draft or open need; whatever escrow holds goes back to the seeker."""
    from marketplace.payments.services import refund_escrow

    require(actor, challenge, EDITORS, "cancel this need")
    if challenge.status not in (Status.DRAFT, Status.OPEN):
        raise Conflict(f"A {challenge.status} need cannot be cancelled.")
    challenge.status = Status.CANCELLED
    challenge.closed_at = utcnow()
    record("need.cancel", obj=challenge, actor=actor)
    db.session.flush()
    refund_escrow(actor, challenge)
    return challenge


def eligibility_problem(user: User, challenge: Challenge, terms: Terms) -> str | None:
    if terms.exclude_org_members and is_staff(user, challenge):
        return "Members of the seeking organization may not take part."
    if user.country and user.country in terms.excluded_countries:
        return "The terms exclude solvers from your country."
    return None


@command
def accept_terms(user: User, challenge_id: int) -> TermsAcceptance:
    """Record that ``user`` accepts the current terms version (idempotent)."""
    challenge = get_visible(user, challenge_id)
    if challenge.status != Status.OPEN:
        raise Conflict("Terms can be accepted only while the need is open.")
    version = challenge.current_terms
    problem = eligibility_problem(user, challenge, version.terms)
    if problem:
        raise Conflict(problem)
    accepted = select(TermsAcceptance).where(
        TermsAcceptance.user_id == user.id, TermsAcceptance.terms_version_id == version.id
    )
    existing = db.session.scalar(accepted)
    if existing:
        return existing
    acceptance = TermsAcceptance(
        user_id=user.id, challenge_id=challenge.id, terms_version=version, sha256=version.sha256
    )
    try:
        with db.session.begin_nested():
            db.session.add(acceptance)
    except IntegrityError:  # the same acceptance sent twice at once: the first one stands
        return db.session.scalars(accepted).one()
    return acceptance


def accepted_version(user: User | None, challenge: Challenge) -> int | None:
    """The latest terms version ``user`` accepted for this need, if any."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        select(func.max(TermsVersion.version))
        .join(TermsAcceptance, TermsAcceptance.terms_version_id == TermsVersion.id)
        .where(TermsAcceptance.user_id == user.id, TermsVersion.challenge_id == challenge.id)
    )


def may_see_confidential(user: User | None, challenge: Challenge) -> bool:
    """Organization staff, and solvers who accepted a terms version of this need."""
    return is_staff(user, challenge) or accepted_version(user, challenge) is not None


def participants(challenge: Challenge) -> list[int]:
    """Ids of everyone taking part: solvers who accepted terms, and who asked a question."""
    from marketplace.dialogue.models import Clarification

    accepted = select(TermsAcceptance.user_id).where(TermsAcceptance.challenge_id == challenge.id)
    asked = select(Clarification.asked_by_id).where(Clarification.challenge_id == challenge.id)
    return sorted(set(db.session.scalars(accepted.union(asked))))


def notify_participants(
    challenge: Challenge, *, kind: str, title: str, body: str = "", link: str = ""
) -> int:
    """Tell everyone taking part in a need (see ``participants``)."""
    return notify(participants(challenge), kind=kind, title=title, body=body, link=link)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@command
def invite_partner(
    actor: User, challenge: Challenge, email: str, partner_name: str = ""
) -> tuple[Invitation, str]:
    """A single-use link for one named partner; returns the invitation and its secret token."""
    require(actor, challenge, EDITORS, "invite partners")
    if challenge.visibility != Visibility.INVITE_ONLY:
        raise Conflict("Invitations are for invite-only needs.")
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise _invalid("email", "Enter the partner's email address.")
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        challenge_id=challenge.id,
        email=email,
        partner_name=(partner_name or "").strip()[:120],
        token_sha256=_token_hash(token),
        created_by_id=actor.id,
        expires_at=utcnow() + timedelta(days=INVITATION_DAYS),
    )
    db.session.add(invitation)
    db.session.flush()
    record("need.invite_partner", obj=challenge, actor=actor, details={"email": email})
    return invitation, token


def invitation_for(user: User, token: str) -> Invitation:
    """The invitation a link is for, if ``user`` may redeem it (or redeemed it already);
    Invalid otherwise. Changes nothing: for the page that shows the link's button."""
    invitation = db.session.scalar(
        select(Invitation).where(Invitation.token_sha256 == _token_hash(token or ""))
    )
    if invitation is None:
        raise Invalid("This invitation link is not valid.")
    if invitation.used_at is not None:
        if invitation.used_by_id == user.id:
            return invitation
        raise Invalid("This invitation link has already been used.")
    if invitation.expires_at <= utcnow():
        raise Invalid("This invitation link has expired; ask for a new one.")
    if invitation.email != user.email:
        raise Invalid(f"This invitation is for {invitation.email}; sign in with that address.")
    return invitation


@command
def redeem_invitation(user: User, token: str) -> Challenge:
    """Let the invited partner in. The link works once, before it expires, for its email."""
    invitation = invitation_for(user, token)
    if invitation.used_at is not None:  # by this user: joining again changes nothing
        return db.session.get(Challenge, invitation.challenge_id)
    invitation.used_at = utcnow()
    invitation.used_by_id = user.id
    if not db.session.scalar(
        select(Guest.id).where(
            Guest.challenge_id == invitation.challenge_id, Guest.user_id == user.id
        )
    ):
        db.session.add(
            Guest(
                challenge_id=invitation.challenge_id, user_id=user.id, invitation_id=invitation.id
            )
        )
    challenge = db.session.get(Challenge, invitation.challenge_id)
    record("need.redeem_invitation", obj=challenge, actor=user)
    return challenge


def challenges_of(actor: User, organization: Organization) -> list[Challenge]:
    """Every need of an organization, drafts included, for its staff."""
    require_role(actor, organization, *STAFF)
    return list(
        db.session.scalars(
            select(Challenge)
            .where(Challenge.organization_id == organization.id)
            .order_by(Challenge.created_at.desc())
        )
    )
