"""A second factor: TOTP (RFC 6238, an authenticator app) with single-use recovery codes.

Who must have one:

- platform finance staff and admins, for anything their role lets them do
  (``require_platform_finance`` / ``require_platform_admin`` ask for it);
- whoever funds a need, pays a value share, awards a prize or reports value (the services of
  those actions call ``require_second_factor``), so the JSON API follows the same rule;
- everyone else may turn it on.

A code is accepted for the time step it belongs to, one step either side of now (clock drift),
and only if that step is later than the last one accepted: a code seen once cannot be used
again. Approving a payout batch asks for a fresh authenticator code (``step_up``) even inside a
session; recovery codes open a sign-in or turn the factor off, not a step-up.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
from sqlalchemy import exists, func, or_, select, update

from ledger import utcnow
from marketplace.accounts.models import User
from marketplace.accounts.second_factor_models import RecoveryCode, SecondFactor
from marketplace.audit.log import record
from marketplace.audit.models import Outcome
from marketplace.db import command
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.extensions import db

ISSUER = "Co-create"
RECOVERY_CODE_COUNT = 10
#: Steps accepted either side of the current one (30 s each).
VALID_WINDOW = 1
CODE_FIELD = "code"


class SecondFactorRequired(Forbidden):
    """The action needs a second factor the user has not set up (pages send them to set it
    up; the API answers 403)."""

    title = "Second factor required"


def has_second_factor(user: User | None) -> bool:
    """True when ``user`` has a confirmed second factor."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    SecondFactor.user_id == user.id, SecondFactor.confirmed_at.is_not(None)
                )
            )
        )
    )


def require_second_factor(user: User, doing: str) -> None:
    """Refuse (SecondFactorRequired) unless ``user`` has a second factor; ``doing`` ends the
    sentence "... before you ...", e.g. "fund a need"."""
    if not has_second_factor(user):
        raise SecondFactorRequired(
            f"Set up a second factor (an authenticator app, on your account page) before you "
            f"{doing}."
        )


def factor_of(user: User) -> SecondFactor | None:
    """The user's second factor, confirmed or still being set up; None without one."""
    return db.session.scalar(select(SecondFactor).where(SecondFactor.user_id == user.id))


def _confirmed(user: User) -> SecondFactor:
    factor = factor_of(user)
    if factor is None or factor.confirmed_at is None:
        raise NotFound("You have no second factor.")
    return factor


def provisioning_uri(user: User, factor: SecondFactor) -> str:
    """The otpauth:// URI an authenticator app reads (from a QR code)."""
    return pyotp.TOTP(factor.secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _new_recovery_codes(factor: SecondFactor) -> list[str]:
    """RECOVERY_CODE_COUNT new codes of 80 random bits, shown as XXXX-XXXX-XXXX-XXXX; only
    their digests are kept."""
    codes = [base64.b32encode(secrets.token_bytes(10)).decode() for _ in range(RECOVERY_CODE_COUNT)]
    factor.recovery_codes = [RecoveryCode(code_sha256=_digest(code)) for code in codes]
    return ["-".join(code[i : i + 4] for i in range(0, 16, 4)) for code in codes]


@command
def start_enrolment(user: User) -> SecondFactor:
    """A new secret waiting for its first code (a restarted enrolment gets a new one)."""
    factor = factor_of(user)
    if factor is not None and factor.confirmed_at is not None:
        raise Conflict("Your second factor is on already; turn it off first to replace it.")
    if factor is None:
        factor = SecondFactor(user_id=user.id)
        db.session.add(factor)
    factor.secret = pyotp.random_base32()
    factor.last_step = None
    db.session.flush()
    return factor


@command
def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn the factor on with a first valid code; returns the recovery codes (shown once)."""
    factor = factor_of(user)
    if factor is None:
        raise Conflict("Start setting up a second factor first.")
    if factor.confirmed_at is not None:
        raise Conflict("Your second factor is on already.")
    check_code(user, code, purpose="enable", factor=factor)
    factor.confirmed_at = utcnow()
    _record("second_factor.enable", user)
    return _new_recovery_codes(factor)


@command
def enrol(user: User, secret: str | None = None) -> list[str]:
    """Set up and confirm a second factor with no code asked: for the demo (a known secret)
    and for tests. Returns the recovery codes."""
    factor = factor_of(user) or SecondFactor(user_id=user.id)
    db.session.add(factor)
    factor.secret = secret or pyotp.random_base32()
    factor.last_step, factor.confirmed_at = None, utcnow()
    db.session.flush()
    _record("second_factor.enable", user, details={"without_code": True})
    return _new_recovery_codes(factor)


@command
def disable(user: User, code: str) -> None:
    """Turn the factor off; needs a current authenticator code or an unused recovery code."""
    factor = _confirmed(user)
    check_code(user, code, recovery=True, purpose="disable")
    db.session.delete(factor)
    _record("second_factor.disable", user)


def _invalid(message: str) -> Invalid:
    return Invalid("The code was not accepted.", {CODE_FIELD: [message]})


def _matching_step(factor: SecondFactor, code: str) -> int | None:
    totp = pyotp.TOTP(factor.secret)
    now = int(time.time() // totp.interval)
    for step in range(now - VALID_WINDOW, now + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _accept_totp(factor: SecondFactor, code: str) -> None:
    """Accept an authenticator code once: its step must be later than the last accepted
    one, recorded by one conditional UPDATE, so two requests with the same code cannot both
    pass."""
    code = "".join(code.split()) if isinstance(code, str) else ""
    step = _matching_step(factor, code) if code.isdigit() and len(code) == 6 else None
    if step is None:
        raise _invalid("This code is wrong or has expired: type the one your app shows now.")
    taken = db.session.execute(
        update(SecondFactor)
        .where(
            SecondFactor.id == factor.id,
            or_(SecondFactor.last_step.is_(None), SecondFactor.last_step < step),
        )
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        raise _invalid("This code was used already: wait for the next one.")
    factor.last_step = step


def _accept_recovery(factor: SecondFactor, code: str) -> None:
    cleaned = "".join(c for c in code.upper() if c.isalnum()) if isinstance(code, str) else ""
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.second_factor_id == factor.id,
            RecoveryCode.code_sha256 == _digest(cleaned),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise _invalid("This code is wrong, or a recovery code that was used already.")


def is_recovery_code(code: str) -> bool:
    """A recovery code is 16 letters and digits (dashes and spaces aside); a TOTP code is 6
    digits."""
    return sum(c.isalnum() for c in code or "") > 6


def _record(action: str, user: User, **facts: object) -> None:
    record(action, object_type="user", object_id=user.id, actor=user, **facts)


@command
def check_code(
    user: User,
    code: str,
    *,
    recovery: bool = False,
    purpose: str = "sign_in",
    factor: SecondFactor | None = None,
) -> str:
    """Check a second-factor code of ``user``: an authenticator code, or (``recovery``) an
    unused recovery code, which is used up. Returns "totp" or "recovery"; Invalid (a field
    error on "code") otherwise. ``purpose`` goes into the audit log: a wrong code is recorded
    there although the command rolls back, and so is each recovery code used."""
    factor = factor or _confirmed(user)
    try:
        if recovery and is_recovery_code(code):
            _accept_recovery(factor, code)
            _record("second_factor.recovery_code_use", user, details={"for": purpose})
            return "recovery"
        _accept_totp(factor, code)
    except Invalid as error:
        reason = " ".join(error.errors.get(CODE_FIELD, [])) or error.message
        _record(
            "second_factor.code",
            user,
            outcome=Outcome.REFUSED,
            details={"for": purpose, "reason": reason},
            apart=True,
        )
        raise
    return "totp"


@command
def step_up(user: User, code: str | None) -> None:
    """A fresh authenticator code for one sensitive action (approving a payout batch): asked
    even inside a session, never a recovery code."""
    require_second_factor(user, "approve payouts")
    try:
        if not (code or "").strip():
            raise _invalid("Type the code your authenticator app shows now.")
        check_code(user, code or "", purpose="payout_approval")
    except Invalid as error:
        reason = " ".join(error.errors.get(CODE_FIELD, [])) or error.message
        _record("payout_batch.step_up", user, outcome=Outcome.REFUSED,
                details={"reason": reason}, apart=True)  # fmt: skip
        raise
    _record("payout_batch.step_up", user)


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        select(func.count(RecoveryCode.id))
        .join(SecondFactor, SecondFactor.id == RecoveryCode.second_factor_id)
        .where(SecondFactor.user_id == user.id, RecoveryCode.used_at.is_(None))
    )


@command
def new_recovery_codes(user: User, code: str) -> list[str]:
    """Replace every recovery code with new ones; needs a current authenticator code."""
    factor = _confirmed(user)
    check_code(user, code, purpose="new_recovery_codes")
    _record("second_factor.new_recovery_codes", user)
    return _new_recovery_codes(factor)
