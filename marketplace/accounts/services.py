"""Account rules: who exists, who belongs to which organization in which role."""

from __future__ import annotations

import re

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from ledger import utcnow
from marketplace.accounts.models import (
    Membership,
    Organization,
    OrgRole,
    SessionEnd,
    User,
    UserSession,
)
from marketplace.accounts.passwords import (
    check_password,
    hash_password,
    needs_rehash,
    password_problems,
    spend_hashing_time,
)
from marketplace.accounts.second_factor import require_second_factor
from marketplace.accounts.sessions import end_sessions
from marketplace.audit.log import record, refusals_recorded
from marketplace.db import command
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.extensions import db
from marketplace.outbox import JobQueue
from marketplace.pagination import PER_PAGE, KeysetPage, keyset_page
from marketplace.queue import enqueue
from marketplace.text_rules import one_line_problem

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_SLUGS = {"new", "api", "admin", "static", "login", "logout", "register"}


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def _check_new_user(email: str, name: str, password: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not EMAIL.fullmatch(email) or len(email) > 254:
        errors["email"] = ["Enter a valid email address."]
    if not name.strip() or len(name) > 120:
        errors["name"] = ["Enter your name (at most 120 characters)."]
    elif problem := one_line_problem(name, "A name"):  # it appears in email subjects
        errors["name"] = [problem]
    if problems := password_problems(password, email, name):
        errors["password"] = problems
    return errors


@command
def register_user(
    email: str,
    name: str,
    password: str,
    *,
    platform_finance: bool = False,
    admin: bool = False,
) -> User:
    """Create a user and send them a link that confirms their email address (by a job,
    after the commit). The email is unique whatever its case. For staff tools (the CLI): a
    taken address is an error here; the public form uses ``sign_up``, which tells no one."""
    email = normalise_email(email)
    errors = _check_new_user(email, name or "", password or "")
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    user = _new_user(email, name, password, platform_finance=platform_finance, admin=admin)
    if user is None:
        raise Invalid(
            "Please correct the highlighted fields.",
            {"email": ["An account with this email already exists."]},
        )
    return user


@command
def sign_up(email: str, name: str, password: str) -> None:
    """The public registration: the same answer and the same work whether or not the address
    has an account, so the form tells nobody which emails are registered.

    A new address gets an account and the link that confirms it (which also signs the person
    in). A known one gets no account: its owner is emailed that someone tried to register
    with their address, with the ways to sign in or reset the password."""
    email = normalise_email(email)
    errors = _check_new_user(email, name or "", password or "")
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    if _new_user(email, name, password) is not None:
        return
    spend_hashing_time()  # as long as the new account's hash took
    owner = db.session.scalar(select(User).where(User.email == email))
    if owner is not None:  # None: a registration of the same address is being committed
        record(
            "account.register",
            obj=owner,
            outcome="refused",
            details={"reason": "the email has an account; its owner was emailed"},
        )
        enqueue("send_registration_notice", owner.id, queue=JobQueue.EMAILS)


def _new_user(
    email: str, name: str, password: str, *, platform_finance: bool = False, admin: bool = False
) -> User | None:
    """Add the user and enqueue their confirmation email; None when the address is taken."""
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        return None
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        is_platform_finance=platform_finance,
        is_admin=admin,
    )
    try:
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:  # a concurrent registration of the same email
        return None
    record("account.register", obj=user, actor=user)
    send_verification_email(user)
    return user


@command
def authenticate(email: str, password: str) -> User:
    """Return the user these credentials belong to, or raise Invalid (same message either way)."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if not check_password(user.password_hash if user else None, password or "") or not (
        user and user.active
    ):
        tried = {"email": normalise_email(email)[:254]}
        record("session.sign_in", outcome="refused", details=tried, actor=user, apart=True)
        raise Invalid("Wrong email or password.")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    record("session.sign_in", obj=user, actor=user)
    return user


@command
def change_password(
    user: User, current_password: str, new_password: str, *, keep: UserSession | None
) -> int:
    """Set a new password after checking the current one, and end every other session of the
    user (``keep``: the session asking, if any). API tokens stay: the user sees them next to
    their sessions and revokes them there. Returns how many sessions ended."""
    errors: dict[str, list[str]] = {}
    if not check_password(user.password_hash, current_password or ""):
        errors["current_password"] = ["This is not your current password."]
        record("account.change_password", obj=user, outcome="refused", apart=True)
    if problems := password_problems(new_password or "", user.email, user.name):
        errors["new_password"] = problems
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    user.password_hash = hash_password(new_password)
    ended = end_sessions(user, keep=keep, reason=SessionEnd.PASSWORD_CHANGED)
    record("account.change_password", obj=user, details={"sessions_ended": ended})
    return ended


def get_user(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def get_organization(slug: str) -> Organization:
    organization = db.session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        raise NotFound("No such organization.")
    return organization


def role_in(user: User, organization: Organization) -> OrgRole | None:
    if not getattr(user, "is_authenticated", False):
        return None
    role = db.session.scalar(
        select(Membership.role).where(
            Membership.organization_id == organization.id, Membership.user_id == user.id
        )
    )
    return OrgRole(role) if role else None


def require_role(user: User, organization: Organization, *roles: OrgRole) -> OrgRole:
    """The user's role in the organization, if it is one of ``roles``; else Forbidden."""
    role = role_in(user, organization)
    if role is None or role not in roles:
        if set(roles) == set(OrgRole):
            raise Forbidden(f"Only members of {organization.name} may see this.")
        allowed = " or ".join(r.value + "s" for r in roles)
        raise Forbidden(f"Only {organization.name}'s {allowed} may do this.")
    return role


def organizations_of(user: User) -> list[tuple[Organization, OrgRole]]:
    rows = db.session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user.id)
        .order_by(Organization.name)
    ).all()
    return [(organization, OrgRole(role)) for organization, role in rows]


@command
def create_organization(actor: User, name: str, slug: str) -> Organization:
    """Create an organization; its creator becomes its owner."""
    name, slug = (name or "").strip(), (slug or "").strip().lower()
    errors: dict[str, list[str]] = {}
    if not 2 <= len(name) <= 120:
        errors["name"] = ["Use 2 to 120 characters."]
    if not SLUG.fullmatch(slug) or not 2 <= len(slug) <= 60 or slug in RESERVED_SLUGS:
        errors["slug"] = ["Use 2 to 60 lower-case letters, digits and single hyphens."]
    elif db.session.scalar(select(Organization.id).where(Organization.slug == slug)):
        errors["slug"] = ["This address is taken."]
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    organization = Organization(name=name, slug=slug)
    try:
        with db.session.begin_nested():
            db.session.add(organization)
            db.session.add(Membership(organization=organization, user=actor, role=OrgRole.OWNER))
    except IntegrityError as error:  # a concurrent creation with the same address
        raise Invalid(
            "Please correct the highlighted fields.", {"slug": ["This address is taken."]}
        ) from error
    record("organization.create", obj=organization, actor=actor)
    return organization


def _role(value: str) -> OrgRole:
    try:
        return OrgRole(value)
    except ValueError:
        raise Invalid(
            "Please correct the highlighted fields.",
            {"role": [f"Choose one of: {', '.join(r.value for r in OrgRole)}."]},
        ) from None


@refusals_recorded("membership.set", object_arg="organization", object_type="organization")
@command
def set_member(actor: User, organization: Organization, email: str, role: str) -> Membership:
    """Add a user to the organization, or change their role. Owners only."""
    require_role(actor, organization, OrgRole.OWNER)
    new_role = _role(role)
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise Invalid(
            "Please correct the highlighted fields.",
            {"email": ["No user has this email; ask them to register first."]},
        )
    membership = db.session.scalar(
        select(Membership).where(
            Membership.organization_id == organization.id, Membership.user_id == user.id
        )
    )
    if membership is None:
        membership = Membership(organization=organization, user=user, role=new_role)
        db.session.add(membership)
        added = {"user_id": user.id, "role": new_role}
        record("membership.add", obj=membership, actor=actor, details=added)
    else:
        if membership.role == OrgRole.OWNER and new_role != OrgRole.OWNER:
            _keep_an_owner(organization, leaving=membership)
        changed = {"user_id": user.id, "from": membership.role, "to": new_role}
        record("membership.change_role", obj=membership, actor=actor, details=changed)
        membership.role = new_role
    return membership


@refusals_recorded("membership.remove", object_arg="organization", object_type="organization")
@command
def remove_member(actor: User, organization: Organization, user_id: int) -> None:
    require_role(actor, organization, OrgRole.OWNER)
    membership = db.session.scalar(
        select(Membership).where(
            Membership.organization_id == organization.id, Membership.user_id == user_id
        )
    )
    if membership is None:
        raise NotFound("This person is not a member.")
    if membership.role == OrgRole.OWNER:
        _keep_an_owner(organization, leaving=membership)
    record("membership.remove", obj=membership, actor=actor, details={"user_id": user_id})
    db.session.delete(membership)


def _keep_an_owner(organization: Organization, leaving: Membership) -> None:
    owners = db.session.scalars(
        select(Membership.id).where(
            Membership.organization_id == organization.id,
            Membership.role == OrgRole.OWNER,
            Membership.id != leaving.id,
        )
    ).all()
    if not owners:
        raise Conflict("An organization needs at least one owner.")


def require_platform_finance(user: User) -> None:
    """Platform finance staff with a second factor (SecondFactorRequired without one)."""
    if not (getattr(user, "is_authenticated", False) and user.is_platform_finance):
        raise Forbidden("Only platform finance staff may see the ledger.")
    require_second_factor(user, "use the finance desk")


def require_platform_admin(user: User) -> None:
    """Platform admins with a second factor (SecondFactorRequired without one)."""
    if not (getattr(user, "is_authenticated", False) and user.is_admin):
        raise Forbidden("Only platform admins may see the background jobs.")
    require_second_factor(user, "use the admin pages")


VERIFY_MAX_AGE = 3 * 24 * 3600


def _verification_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="verify-email")


def email_verification_token(user: User) -> str:
    """A signed link token that proves control of ``user.email`` (valid three days)."""
    return _verification_serializer().dumps({"user": user.id, "email": user.email})


@command
def send_verification_email(user: User) -> None:
    enqueue("send_verification", user.id, queue=JobQueue.EMAILS)


def verification_link_user(token: str) -> User:
    """The user a confirmation link is for (Invalid if it is forged, expired or for an
    address the account no longer has). Changes nothing: also for the page that shows the
    link's button."""
    try:
        data = _verification_serializer().loads(token, max_age=VERIFY_MAX_AGE)
    except SignatureExpired:
        raise Invalid("This confirmation link has expired; send a new one.") from None
    except BadSignature:
        raise Invalid("This confirmation link is not valid.") from None
    user = db.session.get(User, data.get("user")) if isinstance(data, dict) else None
    if user is None or user.email != data.get("email") or not user.active:
        raise Invalid("This confirmation link is not valid.")
    return user


@command
def verify_email(token: str) -> tuple[User, bool]:
    """Confirm the address the link was sent to; returns the user and whether this was the
    first confirmation (the one that may sign a new registrant in; later clicks do not)."""
    user = verification_link_user(token)
    first = user.email_verified_at is None
    if first:
        user.email_verified_at = utcnow()
        record("account.verify_email", obj=user, actor=user)
    return user, first


@command
def update_profile(user: User, *, name: str, country: str, timezone: str) -> User:
    from marketplace.time import known_timezone

    errors: dict[str, list[str]] = {}
    if not (name or "").strip() or len(name) > 120:
        errors["name"] = ["Enter your name (at most 120 characters)."]
    elif problem := one_line_problem(name, "A name"):  # it appears in email subjects
        errors["name"] = [problem]
    country = (country or "").strip().upper()
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        errors["country"] = ["Use a two-letter ISO country code, e.g. DE."]
    if not known_timezone(timezone or ""):
        errors["timezone"] = ["Choose a time zone such as Europe/Berlin."]
    if errors:
        raise Invalid("Please correct the highlighted fields.", errors)
    user.name, user.country, user.timezone = name.strip(), country, timezone
    return user


def members_page(
    organization: Organization, *, cursor: str | None = None, per_page: int = PER_PAGE
) -> KeysetPage[Membership]:
    """A page of the organization's memberships, oldest first, each with its person (one
    statement whatever the page's length)."""
    return keyset_page(
        select(Membership)
        .where(Membership.organization_id == organization.id)
        .options(joinedload(Membership.user)),
        [Membership.id],
        cursor=cursor,
        per_page=per_page,
        descending=False,
        scalars=True,
    )
