"""Second factors in tests: enrol a user, and type the code their authenticator app would show.

Real TOTP codes, computed from the secret stored for the user, the way a phone does. Users
enrolled here share TEST_TOTP_SECRET (each has its own last accepted step), so a browser test
can type a code without reading the database."""

from __future__ import annotations

import time

import pyotp
from sqlalchemy import select

from marketplace.accounts import second_factor
from marketplace.accounts.models import User
from marketplace.accounts.second_factor_models import SecondFactor
from marketplace.extensions import db


def _user(who: User | str | int) -> User:
    if isinstance(who, User):
        return who
    if isinstance(who, int):
        return db.session.get(User, who)
    return db.session.scalar(select(User).where(User.email == who))


TEST_TOTP_SECRET = "TESTTESTTESTTESTTESTTESTTESTTEST"


def enrol(who: User | str | int, secret: str = TEST_TOTP_SECRET) -> list[str]:
    """Give the user a confirmed second factor; returns its recovery codes."""
    return second_factor.enrol(_user(who), secret)


def code_now(secret: str = TEST_TOTP_SECRET, steps_ahead: int = 0) -> str:
    """What the app shows now (or ``steps_ahead`` steps of 30 s later: still accepted for
    one step, and later than a code typed just now)."""
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + steps_ahead * totp.interval)


def fresh_code(who: User | str | int) -> str:
    """A code the app shows now (or the next one, if now's was used already): accepted once.
    Waits for the next 30-second step only when both were used."""
    user = _user(who)
    factor = db.session.scalar(select(SecondFactor).where(SecondFactor.user_id == user.id))
    db.session.refresh(factor)
    totp = pyotp.TOTP(factor.secret)
    now = int(time.time() // totp.interval)
    step = max(now, (factor.last_step or 0) + 1)
    if step > now + second_factor.VALID_WINDOW:
        time.sleep((now + 1) * totp.interval - time.time() + 0.05)
        now += 1
    return totp.generate_otp(step)


def used_code(who: User | str | int) -> str:
    """The code of the last step accepted for the user: a replay."""
    user = _user(who)
    factor = db.session.scalar(select(SecondFactor).where(SecondFactor.user_id == user.id))
    db.session.refresh(factor)
    return pyotp.TOTP(factor.secret).generate_otp(factor.last_step)
