"""Who may see and do what with a need. A need someone may not see does not exist for them:
every lookup and list goes through ``visible_to``, and a miss is a 404, never a 403."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select

from marketplace.accounts.models import Membership, OrganizationDomain, OrgRole, User
from marketplace.challenges.models import Challenge, Guest, Status, Visibility
from marketplace.errors import Forbidden, NotFound
from marketplace.extensions import db

EDITORS = (OrgRole.OWNER, OrgRole.MANAGER)
FUNDERS = (OrgRole.OWNER, OrgRole.MANAGER, OrgRole.FINANCE)
STAFF = tuple(OrgRole)


def _signed_in(user: User | None) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def email_domain(user: User) -> str:
    return user.email.rsplit("@", 1)[-1]


def visible_to(user: User | None) -> ColumnElement[bool]:
    """SQL condition: the needs ``user`` may see (anonymous: open public needs and later)."""
    published = Challenge.status != Status.DRAFT
    if not _signed_in(user):
        return and_(published, Challenge.visibility == Visibility.PUBLIC)
    member = exists().where(
        Membership.organization_id == Challenge.organization_id, Membership.user_id == user.id
    )
    guest = exists().where(Guest.challenge_id == Challenge.id, Guest.user_id == user.id)
    if user.email_verified_at is not None:
        on_domain = exists().where(
            OrganizationDomain.organization_id == Challenge.organization_id,
            OrganizationDomain.domain == email_domain(user),
        )
    else:
        on_domain = false()
    return or_(
        member,
        and_(
            published,
            or_(
                Challenge.visibility == Visibility.PUBLIC,
                and_(Challenge.visibility == Visibility.INTERNAL, on_domain),
                and_(Challenge.visibility == Visibility.INVITE_ONLY, guest),
            ),
        ),
    )


def get_visible(user: User | None, challenge_id: int) -> Challenge:
    challenge = db.session.scalar(
        select(Challenge).where(Challenge.id == challenge_id, visible_to(user))
    )
    if challenge is None:
        raise NotFound("No such need.")
    return challenge


def role_for(user: User | None, challenge: Challenge) -> OrgRole | None:
    if not _signed_in(user):
        return None
    role = db.session.scalar(
        select(Membership.role).where(
            Membership.organization_id == challenge.organization_id,
            Membership.user_id == user.id,
        )
    )
    return OrgRole(role) if role else None


def require(
    user: User | None, challenge: Challenge, roles: tuple[OrgRole, ...], doing: str
) -> None:
    if role_for(user, challenge) not in roles:
        who = " or ".join(r.value + "s" for r in roles)
        raise Forbidden(f"Only the organization's {who} may {doing}.")


def is_staff(user: User | None, challenge: Challenge) -> bool:
    return role_for(user, challenge) is not None
